/**
 * What every store of Vigil can keep and give back unchanged (decision 0600). One rule, used by
 * the intake's schemas (native, NDJSON, CloudEvents, OpenLineage, the dry run, emit-event) and by
 * every consumer of the log before it writes a record:
 *
 * - strings (values and object keys, at any depth) hold no NUL and no lone UTF-16 surrogate:
 *   PostgreSQL's jsonb refuses both (`\u0000`, `\ud800`), and a text column would refuse NUL
 *   and silently turn a lone surrogate into U+FFFD;
 * - date-times lie in 0100-01-01T00:00:00.000Z … 9999-12-31T23:59:59.999Z (UTC): four-digit
 *   years that `Date`, JSON, PostgreSQL and the embedded database's driver all round-trip (the
 *   latter reads years 0001–0099 as 19xx/20xx, and a year past 9999 has no ISO form PostgreSQL
 *   reads).
 */
export const earliestStorableTime = Date.parse('0100-01-01T00:00:00.000Z');
export const latestStorableTime = Date.parse('9999-12-31T23:59:59.999Z');

export const storableTimeMessage = 'must lie between 0100-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (UTC)';

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableStringReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (!value.isWellFormed()) return 'must not contain a lone UTF-16 surrogate (\\ud800–\\udfff without its pair)';
  return undefined;
}

/** True when the ISO date-time (already known to parse) lies in the storable range. */
export function isStorableTime(iso: string): boolean {
  const time = Date.parse(iso);
  return Number.isFinite(time) && time >= earliestStorableTime && time <= latestStorableTime;
}

export interface UnstorableValue {
  /** Keys and indexes from the value's root to the bad string (a bad key is named by its own path). */
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/**
 * Every string in a JSON-like value (object keys included) that cannot be stored. Iterative, so
 * nesting depth costs no stack; stops after `limit` findings.
 */
export function unstorableStrings(value: unknown, limit = 20): UnstorableValue[] {
  const found: UnstorableValue[] = [];
  const stack: Array<[unknown, ReadonlyArray<string | number>]> = [[value, []]];
  while (stack.length > 0 && found.length < limit) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      const reason = unstorableStringReason(current);
      if (reason) found.push({ path, message: reason });
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push([current[index], [...path, index]]);
    } else if (current !== null && typeof current === 'object') {
      for (const [key, child] of Object.entries(current)) {
        const reason = unstorableStringReason(key);
        if (reason) found.push({ path: [...path, key], message: `the key ${reason}` });
        stack.push([child, [...path, key]]);
      }
    }
  }
  return found;
}

/**
 * The text with NUL and lone surrogates replaced by U+FFFD: for text Vigil itself records
 * (error messages, response bodies, dead-letter reasons), never for an event's data, which is
 * refused instead.
 */
export function storableText(value: string): string;
export function storableText(value: string | null): string | null;
export function storableText(value: string | null): string | null {
  if (value === null) return null;
  return value.isWellFormed() && !value.includes('\u0000') ? value : value.toWellFormed().replaceAll('\u0000', '\ufffd');
}
