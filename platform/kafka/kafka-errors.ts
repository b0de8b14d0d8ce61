import { setTimeout as sleep } from 'node:timers/promises';
import { LogUnavailableError } from '../ports/event-log.ts';

/** Wraps any Kafka client failure into the port's "log unavailable" error, keeping the cause. */
export function unavailable(what: string, cause: unknown): LogUnavailableError {
  if (cause instanceof LogUnavailableError) return cause;
  const reason = cause instanceof Error ? describeError(cause) : String(cause);
  return new LogUnavailableError(`Kafka: ${what} failed: ${reason}`, { cause });
}

/**
 * Settles with `operation`, or rejects with LogUnavailableError after `ms`. The operation keeps
 * running in the background when the deadline passes; its late outcome is observed (never an
 * unhandled rejection) and ignored.
 */
export function withDeadline<T>(operation: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LogUnavailableError(`Kafka: ${what} timed out after ${ms} ms`)), ms);
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(unavailable(what, error));
      },
    );
  });
}

/** One line for logs: the library nests the real reasons in `errors` (AggregateError). */
export function describeError(error: Error): string {
  const nested = error instanceof AggregateError ? (error.errors as unknown[]) : [];
  const last = nested.at(-1);
  return last instanceof Error && last.message !== error.message ? `${error.message} (${describeError(last)})` : error.message;
}

/** Sleeps `ms`, or less when `signal` aborts. Never rejects. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}
