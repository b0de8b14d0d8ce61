/**
 * Work started without awaiting it — an append, an enqueue — that a close() must still wait
 * for. A failure never escapes: it goes to the `onError` given with the work (a log line; what
 * happens next is the caller's design, e.g. a sweep that redoes it).
 */
export interface BackgroundWork {
  start(work: Promise<unknown>, onError: (error: unknown) => void): void;
  /** Resolves when everything started so far has settled. */
  settled(): Promise<void>;
}

export function createBackgroundWork(): BackgroundWork {
  const running = new Set<Promise<void>>();
  return {
    start(work, onError) {
      const tracked: Promise<void> = work.then(
        () => undefined,
        (error: unknown) => onError(error),
      );
      running.add(tracked);
      void tracked.finally(() => running.delete(tracked));
    },
    async settled() {
      await Promise.all(running);
    },
  };
}
