import { retryPolicy, type Action } from '../schemas/action.ts';
import { parseDuration } from '../schemas/durations.ts';
import { defaultRetryPolicy, PermanentActionError, RetryableActionError, type RetryPolicy } from '../platform/ports/action-queue.ts';
import { asError } from '../platform/as-error.ts';

/*
 * How an outgoing call's outcome maps onto the queue's retry decision:
 *   2xx            success
 *   429            retryable, after Retry-After when the server gives one
 *   5xx, 408       retryable
 *   other 3xx/4xx  permanent (the request itself is wrong; retrying cannot fix it)
 *   timeout, connection refused/reset, DNS failure: retryable
 *   refused by the egress guard: permanent
 */

/** Response details kept on the action run. */
export interface ResponseInfo {
  readonly status: number;
  readonly body: string;
}

/** Retryable failure with the response that caused it. */
export class RetryableHttpError extends RetryableActionError {
  readonly response: ResponseInfo | undefined;
  constructor(message: string, options: { retryAfterMs?: number; response?: ResponseInfo; cause?: unknown } = {}) {
    super(message, options);
    this.response = options.response;
  }
}

/** Permanent failure with the response that caused it. */
export class PermanentHttpError extends PermanentActionError {
  readonly response: ResponseInfo | undefined;
  constructor(message: string, response?: ResponseInfo) {
    super(message);
    this.response = response;
  }
}

/** The response attached to an action error, if any. */
export function responseOf(error: unknown): ResponseInfo | undefined {
  if (error instanceof RetryableHttpError || error instanceof PermanentHttpError) return error.response;
  return undefined;
}

/** Parses Retry-After (delta-seconds or an HTTP date) into ms; undefined when absent or malformed. */
export function parseRetryAfter(value: string | readonly string[] | undefined, now: number = Date.now()): number | undefined {
  const header: string | undefined = typeof value === 'string' ? value : value?.[0];
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Cap on a server-requested delay, so a hostile Retry-After cannot park a job for a year. */
const maxRetryAfterMs = 15 * 60_000;

/**
 * Throws the error matching a non-2xx response; returns for 2xx.
 * `what` names the call in the message ("Slack chat.postMessage", "webhook").
 */
export function throwUnlessSuccess(what: string, status: number, body: string, retryAfter?: string | readonly string[]): void {
  if (status >= 200 && status < 300) return;
  const response = { status, body };
  const excerpt = body.length > 200 ? `${body.slice(0, 200)}…` : body;
  const message = `${what} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    throw new RetryableHttpError(message, {
      response,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs: Math.min(retryAfterMs, maxRetryAfterMs) }),
    });
  }
  if (status >= 500 || status === 408) throw new RetryableHttpError(message, { response });
  throw new PermanentHttpError(message, response);
}

const retryableNetworkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Maps a transport error (no HTTP response) to a retryable or permanent action error. */
export function classifyTransportError(what: string, error: unknown): Error {
  if (error instanceof PermanentActionError || error instanceof RetryableActionError) return error;
  const err = asError(error);
  const code = (err as { code?: unknown }).code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || code === 'ABORT_ERR') {
    return new RetryableHttpError(`${what} timed out`, { cause: err });
  }
  if (typeof code === 'string' && retryableNetworkCodes.has(code)) {
    return new RetryableHttpError(`${what} failed: ${code} ${err.message}`, { cause: err });
  }
  if (err.name === 'EgressRefusedError') return new PermanentActionError(err.message);
  return new RetryableHttpError(`${what} failed: ${err.message}`, { cause: err });
}

/** The queue's retry policy for an action, from its `retry` settings. */
function retryPolicyOf(action: Pick<Action, 'retry'>): RetryPolicy {
  const retry = action.retry;
  return {
    attempts: retry.attempts,
    backoffMs: parseDuration(retry.backoff) ?? defaultRetryPolicy.backoffMs,
    maxBackoffMs: parseDuration(retry.max_backoff) ?? defaultRetryPolicy.maxBackoffMs,
    maxAgeMs: parseDuration(retry.max_age) ?? defaultRetryPolicy.maxAgeMs,
    jitter: retry.jitter,
  };
}

const storedRetryPolicy = retryPolicy.prefault({});

/**
 * The retry policy of an action as stored (JSON): its `retry` settings, or the default policy
 * when they do not validate. Only `retry` is read: validating the whole action would parse every
 * Liquid template of it once per enqueued job (the worker validates the action when it runs).
 */
export function retryPolicyForStored(stored: unknown): RetryPolicy {
  const retry = stored !== null && typeof stored === 'object' ? (stored as { retry?: unknown }).retry : undefined;
  const parsed = storedRetryPolicy.safeParse(retry);
  return parsed.success ? retryPolicyOf({ retry: parsed.data }) : defaultRetryPolicy;
}
