import { retryDelay, sleep, type BackoffOptions } from './backoff.ts';
import { messageOf, VigilDeliveryError, type DropReason, type VigilApiError } from './errors.ts';
import { prepareEvent, type PreparedEvent } from './prepare-event.ts';

/** What one POST of a batch came to. */
export type PostOutcome = { readonly ok: true } | { readonly ok: false; readonly error: VigilApiError; readonly retryable: boolean };

export interface RetryInfo {
  /** 1 for the first retry. */
  readonly attempt: number;
  /** How long the client waits before it (at least the server's Retry-After, when given). */
  readonly delayMs: number;
  /** Events in the batch. */
  readonly events: number;
  readonly error: VigilApiError;
}

export interface EmitterStats {
  /** Events taken into the buffer by `emit()`. */
  readonly emitted: number;
  /** Events the server acknowledged (202: durably in the event log). */
  readonly delivered: number;
  /** Events waiting or in flight. */
  readonly buffered: number;
  /** POST /api/events requests made, retries included. */
  readonly requests: number;
  readonly retries: number;
  /** Events not delivered, by reason; every one was reported to `onError` (or `onOverflow`). */
  readonly dropped: Readonly<Record<DropReason, number>>;
}

export interface BatcherOptions {
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly maxBufferedEvents: number;
  /** Requests in flight at once; 1 keeps events in emit order. */
  readonly maxConcurrentRequests: number;
  readonly maxRetries: number;
  readonly backoff: BackoffOptions;
  /** Most bytes one request body may have. */
  readonly maxRequestBytes: number;
  readonly post: (body: string, signal: AbortSignal) => Promise<PostOutcome>;
  readonly onError: (error: VigilDeliveryError) => void;
  readonly onOverflow?: ((event: unknown) => void) | undefined;
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

interface Buffered extends PreparedEvent {
  /** Position in emit order: what flush() waits for. */
  readonly seq: number;
  readonly enqueuedAt: number;
}

interface FlushWaiter {
  /** Resolve once every event with a smaller seq is delivered or dropped. */
  readonly target: number;
  readonly resolve: () => void;
}

/**
 * The non-blocking event sender: `emit()` validates and buffers synchronously and never throws;
 * a background loop sends batches when a batch is full, when the oldest buffered event has
 * waited `flushIntervalMs`, or when a flush is asked for — with at most `maxConcurrentRequests`
 * requests in flight (with 1, events leave in the order they were emitted). Transient failures
 * (429, 5xx, network) are retried with exponential backoff and full jitter; every event that
 * cannot be delivered is counted and reported.
 */
export class EventBatcher {
  readonly #options: BatcherOptions;
  /** Events not yet taken into a request, oldest first. */
  #pending: Buffered[] = [];
  /** Requests in flight: the seq of their first event and their size. */
  readonly #inFlight = new Set<{ readonly firstSeq: number; readonly count: number }>();
  #inFlightEvents = 0;
  #nextSeq = 0;
  #waiters: FlushWaiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerImmediate = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #abort = new AbortController();
  readonly #stats = { emitted: 0, delivered: 0, requests: 0, retries: 0 };
  readonly #dropped: Record<DropReason, number> = { invalid: 0, overflow: 0, rejected: 0, retries_exhausted: 0, closed: 0 };

  constructor(options: BatcherOptions) {
    this.#options = options;
  }

  /** Buffers an event for sending; false when it was dropped (and reported). Never throws. */
  emit(input: unknown): boolean {
    try {
      if (this.#closed) {
        this.#drop('closed', [input], 'the Vigil client is closed; the event was not sent');
        return false;
      }
      const result = prepareEvent(input);
      if (!result.ok) {
        const first = result.problems[0];
        const where = first?.path ? `${first.path}: ` : '';
        this.#drop('invalid', [input], `invalid event, not sent: ${where}${first?.message ?? 'invalid'}`, { problems: result.problems });
        return false;
      }
      if (this.#pending.length + this.#inFlightEvents >= this.#options.maxBufferedEvents) {
        this.#overflow(input);
        return false;
      }
      this.#pending.push({ ...result.prepared, seq: this.#nextSeq++, enqueuedAt: Date.now() });
      this.#stats.emitted++;
      this.#schedule();
      return true;
    } catch (error) {
      this.#drop('invalid', [input], `the event could not be prepared, not sent: ${messageOf(error)}`, { cause: error });
      return false;
    }
  }

  /** Resolves when every event buffered so far has been delivered or dropped (and reported). Never rejects. */
  flush(): Promise<void> {
    const target = this.#nextSeq;
    if (this.#settledBelow(target)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ target, resolve });
      this.#schedule();
    });
  }

  /**
   * Refuses new events, delivers the buffered ones and stops. With `timeoutMs`, whatever is not
   * delivered by then is dropped (reason `closed`, reported) so that shutdown is bounded.
   * Idempotent; never rejects.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const flushed = this.flush();
      if (options.timeoutMs !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          flushed.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), options.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          this.#abort.abort(new Error(`close() timed out after ${options.timeoutMs} ms`));
          this.#pump(true);
        }
      }
      await flushed;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    })();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#closed;
  }

  stats(): EmitterStats {
    return { ...this.#stats, buffered: this.#pending.length + this.#inFlightEvents, dropped: { ...this.#dropped } };
  }

  /** True when no event with a seq below `target` is pending or in flight. */
  #settledBelow(target: number): boolean {
    if (this.#pending.length > 0 && this.#pending[0]!.seq < target) return false;
    for (const request of this.#inFlight) if (request.firstSeq < target) return false;
    return true;
  }

  #resolveWaiters(): void {
    if (this.#waiters.length === 0) return;
    const remaining: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#settledBelow(waiter.target)) waiter.resolve();
      else remaining.push(waiter);
    }
    this.#waiters = remaining;
  }

  #canSend(): boolean {
    return this.#inFlight.size < this.#options.maxConcurrentRequests;
  }

  /** Whether the oldest pending events should go now: a full batch, a flush, or lingered long enough. */
  #due(): boolean {
    const oldest = this.#pending[0];
    if (!oldest) return false;
    return this.#pending.length >= this.#options.batchSize || this.#waiters.length > 0 || Date.now() - oldest.enqueuedAt >= this.#options.flushIntervalMs;
  }

  /** Arms the timer that sends: now for a full batch or a flush, else when the oldest event has lingered long enough. */
  #schedule(): void {
    if (this.#pending.length === 0 || !this.#canSend()) {
      // Nothing to send, or a request completing will look again.
      if (this.#pending.length === 0) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
      return;
    }
    const immediate = this.#pending.length >= this.#options.batchSize || this.#waiters.length > 0;
    if (this.#timer && (this.#timerImmediate || !immediate)) return;
    clearTimeout(this.#timer);
    const delay = immediate ? 0 : Math.max(0, this.#pending[0]!.enqueuedAt + this.#options.flushIntervalMs - Date.now());
    this.#timerImmediate = immediate;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump(true);
    }, delay);
  }

  /** Starts requests for due batches while there is room; `timerFired`: the first batch is due by definition. */
  #pump(timerFired = false): void {
    try {
      if (this.#abort.signal.aborted) {
        const rest = this.#pending.splice(0, this.#pending.length);
        if (rest.length > 0) this.#drop('closed', rest.map((item) => item.event), `the Vigil client was closed before ${rest.length} buffered events could be delivered`);
        this.#resolveWaiters();
        return;
      }
      let first = timerFired;
      while (this.#pending.length > 0 && this.#canSend() && (first || this.#due())) {
        first = false;
        const batch = this.#takeBatch();
        const request = { firstSeq: batch[0]!.seq, count: batch.length };
        this.#inFlight.add(request);
        this.#inFlightEvents += batch.length;
        void this.#deliver(batch).finally(() => {
          this.#inFlight.delete(request);
          this.#inFlightEvents -= request.count;
          this.#resolveWaiters();
          this.#pump();
        });
      }
    } catch (error) {
      // A bug, not a delivery problem: report it rather than crash the host process.
      this.#report(new VigilDeliveryError('rejected', `the Vigil client's send loop failed: ${messageOf(error)}`, [], { cause: error }));
    }
    this.#schedule();
  }

  /** Takes the oldest pending events: at most `batchSize`, and at most `maxRequestBytes` as a JSON array (always at least one). */
  #takeBatch(): Buffered[] {
    const limit = Math.min(this.#options.batchSize, this.#pending.length);
    let bytes = 2;
    let count = 0;
    while (count < limit) {
      const added = this.#pending[count]!.bytes + (count > 0 ? 1 : 0);
      if (count > 0 && bytes + added > this.#options.maxRequestBytes) break;
      bytes += added;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  /** Sends one batch until it is delivered or dropped; never rejects. */
  async #deliver(batch: readonly Buffered[]): Promise<void> {
    const body = `[${batch.map((item) => item.json).join(',')}]`;
    const events = (): unknown[] => batch.map((item) => item.event);
    const signal = this.#abort.signal;
    try {
      for (let attempt = 0; ; attempt++) {
        if (signal.aborted) {
          this.#drop('closed', events(), `the Vigil client was closed before a batch of ${batch.length} events could be delivered`);
          return;
        }
        this.#stats.requests++;
        const outcome = await this.#options.post(body, signal);
        if (outcome.ok) {
          this.#stats.delivered += batch.length;
          return;
        }
        const { error } = outcome;
        const answer = error.status === 0 ? error.message : `${error.status} ${error.code}: ${error.message}`;
        if (signal.aborted) {
          this.#drop('closed', events(), `the Vigil client was closed before a batch of ${batch.length} events could be delivered (last attempt: ${answer})`, { cause: error });
          return;
        }
        if (!outcome.retryable) {
          this.#drop('rejected', events(), `Vigil refused a batch of ${batch.length} events: ${answer}`, { cause: error, problems: error.errors });
          return;
        }
        if (attempt >= this.#options.maxRetries) {
          this.#drop('retries_exhausted', events(), `a batch of ${batch.length} events was not delivered after ${attempt + 1} attempts: ${answer}`, { cause: error });
          return;
        }
        const delayMs = retryDelay(attempt, this.#options.backoff, error.retryAfterMs);
        this.#stats.retries++;
        this.#callback(() => this.#options.onRetry?.({ attempt: attempt + 1, delayMs, events: batch.length, error }));
        await sleep(delayMs, signal);
      }
    } catch (error) {
      this.#drop('rejected', events(), `a batch of ${batch.length} events could not be sent: ${messageOf(error)}`, { cause: error });
    }
  }

  #overflow(input: unknown): void {
    this.#dropped.overflow++;
    const { onOverflow } = this.#options;
    if (onOverflow) this.#callback(() => onOverflow(input));
    else this.#report(new VigilDeliveryError('overflow', `the Vigil client's buffer holds ${this.#options.maxBufferedEvents} events (maxBufferedEvents); the event was dropped`, [input]));
  }

  #drop(reason: DropReason, events: readonly unknown[], message: string, details: ConstructorParameters<typeof VigilDeliveryError>[3] = {}): void {
    this.#dropped[reason] += events.length;
    this.#report(new VigilDeliveryError(reason, message, events, details));
  }

  #report(error: VigilDeliveryError): void {
    this.#callback(() => this.#options.onError(error));
  }

  /** Runs a user callback; what it throws must not reach the caller of emit() or the send loop. */
  #callback(call: () => void): void {
    try {
      call();
    } catch {
      // a throwing callback is the caller's bug; the client carries on
    }
  }
}
