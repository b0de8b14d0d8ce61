/*
 * Per-channel pacing for chat APIs (Slack allows about one message per second per channel):
 * each key gets slots `intervalMs` apart; a 429 blocks the key until its Retry-After has passed.
 * In-process: each worker process paces its own sends.
 */

export interface ChannelPacer {
  /** Waits for the key's next slot. */
  wait(key: string, intervalMs: number, signal?: AbortSignal): Promise<void>;
  /** No slot for this key before `ms` from now. */
  block(key: string, ms: number): void;
}

export function createChannelPacer(now: () => number = Date.now): ChannelPacer {
  const nextSlot = new Map<string, number>();
  return {
    async wait(key, intervalMs, signal) {
      const current = now();
      const slot = Math.max(current, nextSlot.get(key) ?? 0);
      nextSlot.set(key, slot + intervalMs);
      if (nextSlot.size > 10_000) {
        for (const [other, at] of nextSlot) if (at < current) nextSlot.delete(other);
      }
      const delay = slot - current;
      if (delay <= 0) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, delay);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          },
          { once: true },
        );
      });
    },
    block(key, ms) {
      nextSlot.set(key, Math.max(nextSlot.get(key) ?? 0, now() + ms));
    },
  };
}
