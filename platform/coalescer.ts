/**
 * Coalesces single calls into batches: the first item goes out at once; items that arrive while
 * that batch is in flight wait and go out together in the next one. No added latency when idle,
 * large batches under load — one statement (one round trip) serves many callers.
 */
export type Coalesced<In, Out> = (item: In) => Promise<Out>;

interface Waiting<In, Out> {
  readonly item: In;
  resolve(value: Out): void;
  reject(error: unknown): void;
}

/**
 * `flush` receives the items in arrival order and returns one result per item, in the same order;
 * when it rejects, every item of that batch rejects with its error. At most `maxItems` go in one
 * batch and one batch is in flight at a time.
 */
export function createCoalescer<In, Out>(flush: (items: readonly In[]) => Promise<readonly Out[]>, maxItems = 500): Coalesced<In, Out> {
  if (!(maxItems >= 1)) throw new RangeError(`maxItems must be at least 1, got ${maxItems}`);
  const queue: Waiting<In, Out>[] = [];
  let flushing = false;

  async function drain(): Promise<void> {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxItems);
        try {
          const results = await flush(batch.map((waiting) => waiting.item));
          if (results.length !== batch.length) throw new Error(`coalesced flush returned ${results.length} results for ${batch.length} items`);
          batch.forEach((waiting, index) => waiting.resolve(results[index]!));
        } catch (error) {
          for (const waiting of batch) waiting.reject(error);
        }
      }
    } finally {
      flushing = false;
    }
  }

  return (item) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!flushing) void drain();
    });
}

/** Coalesces calls that each write a list of ids (marking rows done, say) into one write of all of them. */
export function coalesceIdLists(write: (ids: string[]) => Promise<unknown>): Coalesced<readonly string[], void> {
  return createCoalescer<readonly string[], void>(async (lists) => {
    await write(lists.flat());
    return lists.map(() => undefined);
  });
}
