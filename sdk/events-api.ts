import type { HttpTransport, Query } from './http-transport.ts';
import { apiError } from './http-transport.ts';
import { parseServerSentEvents } from './server-sent-events.ts';
import type { EventFilter, EventPage, IncomingEvent, SendResult, VigilEvent } from './types.ts';
import { newEventId } from '../schemas/event-id.ts';

function filterQuery(filter: EventFilter): Record<string, string | undefined> {
  const query: Record<string, string | undefined> = {
    since: filter.since instanceof Date ? filter.since.toISOString() : filter.since,
    until: filter.until instanceof Date ? filter.until.toISOString() : filter.until,
    event: filter.event,
    resource: filter.resource,
  };
  for (const [key, value] of Object.entries(filter.labels ?? {})) query[`label.${key}`] = value;
  return query;
}

export interface StreamOptions {
  /** Stops the stream (the iterator then ends without an error). */
  readonly signal?: AbortSignal;
  /** Called once the server accepted the subscription: events persisted from then on are delivered. */
  readonly onOpen?: () => void;
}

/** Event history, live stream and direct (awaited) sends. */
export class EventsApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  /**
   * Sends events in one request and waits for the answer (unlike `VigilClient.emit`): the ids,
   * or a VigilApiError (422 lists every problem with its index and path). Events without an id
   * get a uuidv7 here, so that a retry after a lost answer does not duplicate them. At most
   * 10,000 events (10 MiB) per call.
   */
  async send(events: IncomingEvent | readonly IncomingEvent[]): Promise<SendResult> {
    const list = (Array.isArray(events) ? events : [events]) as readonly IncomingEvent[];
    const withIds = list.map((event) => (event !== null && typeof event === 'object' && event.id === undefined ? { id: newEventId(), ...event } : event));
    const { body } = await this.#http.request<SendResult>('POST', '/api/events', { body: withIds, retry: true });
    return body;
  }

  /** One page of the history, newest first (at most `limit`, default 100, max 1000). */
  async page(filter: EventFilter & { limit?: number; cursor?: string } = {}): Promise<EventPage> {
    const query: Query = { ...filterQuery(filter), limit: filter.limit, cursor: filter.cursor };
    const { body } = await this.#http.request<EventPage>('GET', '/api/events', { query, retry: true });
    return body;
  }

  /** Every event of the history matching the filter, newest first, fetched page by page as you iterate. */
  async *query(filter: EventFilter & { pageSize?: number } = {}): AsyncGenerator<VigilEvent> {
    const { pageSize = 500, ...rest } = filter;
    let cursor: string | undefined;
    do {
      const page = await this.page({ ...rest, limit: pageSize, ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.events;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  /**
   * The live stream (Server-Sent Events) of events persisted from now on that match the filter.
   * Ends when the server closes the connection or `signal` aborts; throws VigilApiError when the
   * subscription is refused or the server cannot be reached.
   */
  async *stream(filter: EventFilter = {}, options: StreamOptions = {}): AsyncGenerator<VigilEvent> {
    const url = this.#http.url('/api/events/stream', filterQuery(filter));
    // The request timeout covers the connection and the response headers, not the stream.
    const connect = new AbortController();
    const timer = setTimeout(() => connect.abort(new DOMException('no response headers in time', 'TimeoutError')), this.#http.options.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, connect.signal]) : connect.signal;
    let response: Response;
    try {
      response = await this.#http.fetch(url, { method: 'GET', headers: this.#http.headers({ accept: 'text/event-stream' }), signal }, null);
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      let body: unknown = text;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        // not JSON
      }
      throw apiError(response.status, response.statusText, response.headers, body);
    }
    options.onOpen?.();
    try {
      for await (const message of parseServerSentEvents(response.body)) {
        if (message.event !== 'event') continue;
        yield JSON.parse(message.data) as VigilEvent;
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
  }
}
