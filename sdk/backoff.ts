/** Retry timing shared by the event sender and the management calls. */

export interface BackoffOptions {
  /** Upper bound of the first retry's delay. */
  readonly initialBackoffMs: number;
  /** Upper bound of any computed delay. */
  readonly maxBackoffMs: number;
}

/** The longest Retry-After the client honours; a server asking for more is asked again sooner. */
export const maxRetryAfterMs = 5 * 60_000;

/**
 * Exponential backoff with full jitter: a uniformly random delay between 0 and
 * min(maxBackoffMs, initialBackoffMs × 2^attempt). `attempt` counts from 0 (the first retry).
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** The delay before a retry: the jittered backoff, but never shorter than the server's Retry-After. */
export function retryDelay(attempt: number, options: BackoffOptions, retryAfterMs?: number, random?: () => number): number {
  const jittered = fullJitterDelay(attempt, options, random);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(Math.min(retryAfterMs, maxRetryAfterMs), jittered);
}

/** A Retry-After header (delta-seconds or an HTTP date) in milliseconds from now; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Statuses worth retrying: 429 (rate limited) and every 5xx; other 4xx are final. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/** Resolves after `ms`, or as soon as `signal` aborts (then it resolves too: callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
