import type { HttpTransport } from './http-transport.ts';
import type { ActionRun, ActionRunFilter, ActionRunPage } from './types.ts';

/** Action runs: what the workers did; `failed` runs are the dead-letter list. */
export class ActionRunsApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  /** One page, newest first (`limit` default 100 on the server). */
  async list(filter: ActionRunFilter & { limit?: number; cursor?: string } = {}): Promise<ActionRunPage> {
    const { body } = await this.#http.request<ActionRunPage>('GET', '/api/action-runs', {
      query: { status: filter.status, automation: filter.automation, limit: filter.limit, cursor: filter.cursor },
      retry: true,
    });
    return body;
  }

  /** Every matching run, newest first, fetched page by page as you iterate. */
  async *query(filter: ActionRunFilter & { pageSize?: number } = {}): AsyncGenerator<ActionRun> {
    const { pageSize, ...rest } = filter;
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...rest, ...(pageSize !== undefined ? { limit: pageSize } : {}), ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.action_runs;
      cursor = page.next;
    } while (cursor !== undefined);
  }

  /** Sends a failed run back to the queue with a fresh attempt budget (202). 404 / 409 as VigilApiError. */
  async retry(id: string): Promise<void> {
    await this.#http.request('POST', `/api/action-runs/${encodeURIComponent(id)}/retry`);
  }
}
