/**
 * The position of a keyset page (newest first, or oldest first): the last row's time, in UTC
 * with up to microseconds as PostgreSQL gives it, and its id. The `next` of a page and the
 * `cursor` of the following request hold it as base64url JSON: opaque to clients.
 */
export interface PageCursor {
  readonly at: string;
  readonly id: string;
}

const utcTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodePageCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

/**
 * The cursor a page's `next` holds; undefined when the text is not one. `isId` says what the
 * ids of this list look like (a UUID where the column is one: a cursor must never reach SQL
 * with a value the column's type refuses).
 */
export function decodePageCursor(text: string, isId: (id: string) => boolean): PageCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      utcTimePattern.test(value[0]) &&
      !Number.isNaN(Date.parse(value[0])) &&
      typeof value[1] === 'string' &&
      isId(value[1])
    ) {
      return { at: value[0], id: value[1] };
    }
  } catch {
    // not a cursor of ours
  }
  return undefined;
}
