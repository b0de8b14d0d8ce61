/**
 * The action queue port: durable jobs with id-dedupe, delay, retries with backoff, bounded
 * concurrency and a dead-letter list. BullMQ on Redis in distributed mode, a jobs table in the
 * embedded store otherwise; both pass test/contracts/action-queue-contract.ts.
 *
 * The queue owns the retry decision: a handler only says *how* an attempt failed, by throwing
 * a RetryableActionError (optionally with a server-given delay), a PermanentActionError, or
 * anything else (treated as retryable). The queue then applies the job's RetryPolicy through
 * `decideAfterFailure` below, so every adapter retries and dead-letters in the same way.
 */

/** How a job is retried. All durations in milliseconds. */
export interface RetryPolicy {
  /** Total attempts including the first one (≥ 1). */
  readonly attempts: number;
  /** Delay before the 2nd attempt; doubles after each further failure (exponential backoff). */
  readonly backoffMs: number;
  /** Upper bound of one backoff delay. */
  readonly maxBackoffMs: number;
  /** No attempt starts later than this after the job was (re)enqueued; the job is dead-lettered instead. */
  readonly maxAgeMs: number;
  /** Random spread of each backoff delay, 0…1 (0.2 = ±20 %), so retries of many jobs do not align. */
  readonly jitter: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 5,
  backoffMs: 5_000,
  maxBackoffMs: 10 * 60_000,
  maxAgeMs: 60 * 60_000,
  jitter: 0.2,
};

export interface EnqueueRequest {
  /** Job id: enqueueing an id the queue already holds (in any state) adds nothing. */
  readonly id: string;
  /** JSON-serializable payload. */
  readonly data: unknown;
  readonly policy: RetryPolicy;
  /** Earliest start, in ms from now. */
  readonly delayMs?: number;
}

/** A job handed to a handler. */
export interface ActionJob {
  readonly id: string;
  readonly data: unknown;
  /** 1 for the first attempt. An attempt cut short by a crashed worker is started again with the same number. */
  readonly attempt: number;
  readonly policy: RetryPolicy;
  /** When the job was enqueued (or last retried from the dead-letter list): the origin of `maxAgeMs`. */
  readonly enqueuedAt: Date;
}

/** The attempt failed in a way worth retrying (5xx, 429, timeout, connection refused). */
export class RetryableActionError extends Error {
  override readonly name: string = 'RetryableActionError';
  /** The server asked for this delay (`Retry-After`); the queue waits at least this long. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { retryAfterMs?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** The attempt failed in a way retrying cannot fix (4xx, invalid template, missing connection). */
export class PermanentActionError extends Error {
  override readonly name: string = 'PermanentActionError';
}

export type FailureDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: string };

/** Exponential backoff for the attempt that just failed (1-based), with jitter, capped. */
function backoffDelay(policy: RetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** Math.max(0, failedAttempt - 1));
  const spread = base * Math.min(1, Math.max(0, policy.jitter));
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

/**
 * What the queue does after attempt `job.attempt` failed with `error`: retry after a delay,
 * or dead-letter with a reason. Shared by every adapter so that they behave the same.
 */
export function decideAfterFailure(job: ActionJob, error: unknown, now: number = Date.now()): FailureDecision {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof PermanentActionError) return { retry: false, reason: message };
  if (job.attempt >= job.policy.attempts) {
    return { retry: false, reason: `gave up after ${job.attempt} attempt${job.attempt === 1 ? '' : 's'}: ${message}` };
  }
  const retryAfterMs = error instanceof RetryableActionError ? (error.retryAfterMs ?? 0) : 0;
  const delayMs = Math.max(retryAfterMs, backoffDelay(job.policy, job.attempt));
  if (now + delayMs - job.enqueuedAt.getTime() > job.policy.maxAgeMs) {
    return { retry: false, reason: `max age of ${job.policy.maxAgeMs} ms reached: ${message}` };
  }
  return { retry: true, delayMs };
}

export interface DeadLetter {
  readonly id: string;
  readonly data: unknown;
  readonly reason: string;
  readonly attempts: number;
  readonly failedAt: Date;
}

export interface ProcessOptions {
  /** Jobs this worker runs at once. */
  readonly concurrency: number;
  /**
   * Runs one attempt. Resolving completes the job; throwing fails the attempt (see the error
   * classes above). `signal` aborts when the worker is closing or has lost the job.
   */
  handle(job: ActionJob, signal: AbortSignal): Promise<void>;
  /** Called (and awaited) after a failed attempt, with the queue's decision, before the job moves on. */
  onFailure?(job: ActionJob, error: unknown, decision: FailureDecision): Promise<void>;
}

export interface QueueWorker {
  /** Stops taking jobs; waits for the jobs in progress (up to the adapter's grace period). */
  close(): Promise<void>;
}

export interface ActionQueue {
  /**
   * True when it is stored in Vigil's own database (embedded mode: PGlite, one connection). It
   * must then not be called inside a database transaction, which holds that one connection.
   */
  readonly sharesDatabase?: boolean;
  /** Adds jobs; ids already present are skipped. Rejects (and adds nothing it can avoid) when the queue is unreachable. */
  enqueue(jobs: readonly EnqueueRequest[]): Promise<void>;
  /** Starts a worker on this queue. */
  process(options: ProcessOptions): Promise<QueueWorker>;
  /** The dead-letter list, newest first. */
  deadLetters(options?: { readonly limit?: number }): Promise<DeadLetter[]>;
  /**
   * Moves a dead-lettered job back to the queue with a fresh attempt count and age.
   * Resolves to false when no dead letter has that id.
   */
  retryDeadLetter(id: string): Promise<boolean>;
  /** The job's state, for diagnostics and tests; undefined when unknown. */
  state(id: string): Promise<'waiting' | 'delayed' | 'active' | 'completed' | 'dead' | undefined>;
  /** Resolves when the queue backend answers; rejects otherwise. */
  check(): Promise<void>;
  /** Closes workers started by `process` and the queue's connections. */
  close(): Promise<void>;
}
