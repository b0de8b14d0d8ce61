import { eventLimits } from '../schemas/limits.ts';
import { ActionRunsApi } from './action-runs-api.ts';
import { AutomationsApi } from './automations-api.ts';
import { ConnectionsApi } from './connections-api.ts';
import { isRetryableStatus } from './backoff.ts';
import { VigilApiError, type VigilDeliveryError } from './errors.ts';
import { EventBatcher, type EmitterStats, type PostOutcome, type RetryInfo } from './event-batcher.ts';
import { EventsApi } from './events-api.ts';
import { FiringsApi } from './firings-api.ts';
import { apiError, HttpTransport } from './http-transport.ts';
import { KeysApi } from './keys-api.ts';
import type { IncomingEvent } from './types.ts';

export const sdkVersion = '0.1.0';

export interface VigilClientOptions {
  /** Base URL of Vigil, e.g. http://127.0.0.1:7700. */
  readonly url: string;
  /** An API key: `events:write` to emit, `read` to query, `admin` to manage automations. */
  readonly apiKey: string;
  /** Most events per POST /api/events (1–10,000). Default 500. */
  readonly batchSize?: number;
  /** How long an event may wait for a batch to fill before it is sent anyway. Default 200 ms. */
  readonly flushIntervalMs?: number;
  /** Events held in memory (waiting or in flight); beyond it `emit()` drops and reports. Default 10,000. */
  readonly maxBufferedEvents?: number;
  /** Requests in flight at once (1–64). With 1, events reach Vigil in the order they were emitted. Default 1. */
  readonly maxConcurrentRequests?: number;
  /** Retries of a batch on 429, 5xx and network errors before its events are dropped and reported. Default 10. */
  readonly maxRetries?: number;
  /** Upper bound of the first retry's (fully jittered) delay; doubles per retry. Default 200 ms. */
  readonly initialBackoffMs?: number;
  /** Upper bound of any backoff delay (a longer Retry-After is still honoured, up to 5 min). Default 30 s. */
  readonly maxBackoffMs?: number;
  /** Timeout of one HTTP request. Default 30 s. */
  readonly timeoutMs?: number;
  /** Retries of idempotent management calls on 429/502/503/504. Default 2. */
  readonly managementRetries?: number;
  /**
   * Every event `emit()` could not deliver, with the reason (invalid, overflow without
   * `onOverflow`, rejected by the server, retries exhausted, closed). Default: one line on
   * stderr (repeats of a reason are summarised at most every 10 s).
   */
  readonly onError?: (error: VigilDeliveryError) => void;
  /** Each event refused because the buffer was full. Without it, overflows go to `onError`. */
  readonly onOverflow?: (event: unknown) => void;
  /** Each retry of a batch: attempt number, delay and the error that caused it. */
  readonly onRetry?: (info: RetryInfo) => void;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be a whole number from ${min} to ${max}; got ${value}`);
  return value;
}

/** stderr reporter that does not flood: the first error of each reason, then a count every 10 s. */
function stderrReporter(): (error: VigilDeliveryError) => void {
  const quietMs = 10_000;
  const last = new Map<string, { at: number; suppressed: number }>();
  return (error) => {
    const now = Date.now();
    const seen = last.get(error.reason);
    if (seen && now - seen.at < quietMs) {
      seen.suppressed += error.events.length || 1;
      return;
    }
    const more = seen && seen.suppressed > 0 ? ` (${seen.suppressed} more events dropped for this reason since the last message)` : '';
    last.set(error.reason, { at: now, suppressed: 0 });
    process.stderr.write(`vigil-sdk: ${error.reason}: ${error.message}${more}\n`);
  };
}

/**
 * The Vigil client.
 *
 * `emit()` hands events to a bounded in-memory buffer and returns at once (it never blocks and
 * never throws); a background loop sends them in batches, retrying transient failures with
 * exponential backoff and full jitter. Call `close()` on shutdown to deliver what is buffered.
 * The management APIs (`automations`, `events`, `actionRuns`, `firings`, `keys`, `connections`) are plain awaited calls that throw
 * `VigilApiError` on a non-2xx answer.
 */
export class VigilClient {
  readonly automations: AutomationsApi;
  readonly events: EventsApi;
  readonly actionRuns: ActionRunsApi;
  readonly firings: FiringsApi;
  readonly keys: KeysApi;
  readonly connections: ConnectionsApi;
  readonly #http: HttpTransport;
  readonly #batcher: EventBatcher;

  constructor(options: VigilClientOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('VigilClient needs options { url, apiKey }');
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') throw new TypeError('apiKey must be a non-empty string (a Vigil API key)');
    const backoff = {
      initialBackoffMs: positiveInteger('initialBackoffMs', options.initialBackoffMs ?? 200),
      maxBackoffMs: positiveInteger('maxBackoffMs', options.maxBackoffMs ?? 30_000),
    };
    this.#http = new HttpTransport({
      url: options.url,
      apiKey: options.apiKey.trim(),
      timeoutMs: positiveInteger('timeoutMs', options.timeoutMs ?? 30_000),
      managementRetries: positiveInteger('managementRetries', options.managementRetries ?? 2, 100, 0),
      userAgent: `vigil-sdk-ts/${sdkVersion}`,
      ...backoff,
    });
    const eventsUrl = this.#http.url('/api/events');
    this.#batcher = new EventBatcher({
      batchSize: positiveInteger('batchSize', options.batchSize ?? 500, eventLimits.maxEventsPerRequest),
      flushIntervalMs: positiveInteger('flushIntervalMs', options.flushIntervalMs ?? 200, 3_600_000, 0),
      maxBufferedEvents: positiveInteger('maxBufferedEvents', options.maxBufferedEvents ?? 10_000),
      maxConcurrentRequests: positiveInteger('maxConcurrentRequests', options.maxConcurrentRequests ?? 1, 64),
      maxRetries: positiveInteger('maxRetries', options.maxRetries ?? 10, 1_000, 0),
      backoff,
      maxRequestBytes: eventLimits.maxRequestBytes,
      onError: options.onError ?? stderrReporter(),
      onOverflow: options.onOverflow,
      onRetry: options.onRetry,
      post: (body, signal) => this.#post(eventsUrl, body, signal),
    });
    this.automations = new AutomationsApi(this.#http);
    this.events = new EventsApi(this.#http);
    this.actionRuns = new ActionRunsApi(this.#http);
    this.firings = new FiringsApi(this.#http);
    this.keys = new KeysApi(this.#http);
    this.connections = new ConnectionsApi(this.#http);
  }

  /**
   * Queues an event for delivery and returns at once. Returns false when the event was dropped
   * — invalid (checked locally against the event schema and size limit), buffer full, or client
   * closed — after reporting it to `onError`/`onOverflow`. Never throws, never waits.
   * Events without `id` get a uuidv7 and without `occurred` the current time, here.
   */
  emit(event: IncomingEvent): boolean {
    return this.#batcher.emit(event);
  }

  /** Resolves when every event emitted so far has been delivered or dropped (and reported). Never rejects. */
  flush(): Promise<void> {
    return this.#batcher.flush();
  }

  /**
   * Stops taking events, delivers the buffered ones and stops the background loop. With
   * `timeoutMs`, events still undelivered then are dropped (reason `closed`) so that shutdown is
   * bounded. Idempotent; never rejects. Call it from your shutdown path (see docs/reference/sdk.md).
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.#batcher.close(options);
  }

  get closed(): boolean {
    return this.#batcher.closed;
  }

  /** Counters of the emit path: emitted, delivered, buffered, requests, retries, dropped by reason. */
  stats(): EmitterStats {
    return this.#batcher.stats();
  }

  async #post(url: URL, body: string, signal: AbortSignal): Promise<PostOutcome> {
    let response: Response;
    try {
      response = await this.#http.fetch(url, { method: 'POST', headers: this.#http.headers({ 'content-type': 'application/json' }), body, signal });
    } catch (error) {
      const failure = error instanceof VigilApiError ? error : new VigilApiError(0, 'network_error', String(error), { cause: error });
      return { ok: false, error: failure, retryable: true };
    }
    let text = '';
    try {
      text = await response.text();
    } catch {
      // the body was cut off: the status still says what happened
    }
    if (response.ok) return { ok: true };
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      // not JSON
    }
    return { ok: false, error: apiError(response.status, response.statusText, response.headers, parsed), retryable: isRetryableStatus(response.status) };
  }
}
