/** Every item of a keyset-paged listing, fetching the next page (by its `next` cursor) as the caller iterates. */
export async function* everyPage<T>(fetchPage: (cursor: string | undefined) => Promise<{ readonly items: readonly T[]; readonly next?: string | undefined }>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.next;
  } while (cursor !== undefined);
}
