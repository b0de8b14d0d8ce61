/** One problem the server (or local validation) found, with where it is. */
export interface ApiProblem {
  /** Index of the item in a batch (events), when the request held several. */
  readonly index?: number;
  /** Dotted path of the offending field; empty for the item itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * A management call that did not succeed: the server answered with a non-2xx status (its
 * `{ error, message, errors? }` body is kept), or it could not be reached (`status` 0,
 * `code` "network_error" or "timeout").
 */
export class VigilApiError extends Error {
  override readonly name = 'VigilApiError';
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The server's machine-readable `error` code, e.g. `invalid_events`, `unauthorized`. */
  readonly code: string;
  /** Path-level problems the server listed (422). */
  readonly errors?: readonly ApiProblem[];
  /** Milliseconds the server asked the client to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;
  /** The parsed response body, when there was one. */
  readonly body?: unknown;

  constructor(
    status: number,
    code: string,
    message: string,
    details: { errors?: readonly ApiProblem[]; retryAfterMs?: number; body?: unknown; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = status;
    this.code = code;
    if (details.errors !== undefined) this.errors = details.errors;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
    if (details.body !== undefined) this.body = details.body;
  }

  /** True when no HTTP answer arrived (connection refused, reset, DNS, timeout). */
  get isNetworkError(): boolean {
    return this.status === 0;
  }
}

/** Why events handed to `emit()` were not delivered. */
export type DropReason =
  /** The event failed local validation (schema or size); it was never sent. */
  | 'invalid'
  /** The buffer held `maxBufferedEvents` events; the new event was refused. */
  | 'overflow'
  /** The server refused the batch with a 4xx other than 429 (e.g. 401, 403, 413, 422). */
  | 'rejected'
  /** 429, 5xx or network errors persisted through `maxRetries` retries. */
  | 'retries_exhausted'
  /** The client was closed: the event came after `close()`, or `close({ timeoutMs })` ran out. */
  | 'closed';

export const dropReasons: readonly DropReason[] = ['invalid', 'overflow', 'rejected', 'retries_exhausted', 'closed'];

/** Reported to `onError` for every event (or batch of events) `emit()` could not deliver. */
export class VigilDeliveryError extends Error {
  override readonly name = 'VigilDeliveryError';
  readonly reason: DropReason;
  /** The dropped events (as given to `emit()`, or as prepared for sending). */
  readonly events: readonly unknown[];
  /** Local validation problems (reason `invalid`). */
  readonly problems?: readonly ApiProblem[];

  constructor(reason: DropReason, message: string, events: readonly unknown[], details: { problems?: readonly ApiProblem[]; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.events = events;
    if (details.problems !== undefined) this.problems = details.problems;
  }
}

/** The message of any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && error.cause.message && !error.message.includes(error.cause.message) ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
