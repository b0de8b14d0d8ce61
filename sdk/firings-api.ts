import type { HttpTransport } from './http-transport.ts';
import { everyPage } from './paging.ts';
import type { Firing, FiringFilter, FiringPage, Instant } from './types.ts';

function instant(value: Instant | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

/** Filters of GET /api/firings: those of one automation's firings, plus the automation. */
export interface AllFiringsFilter extends FiringFilter {
  /** Only this automation's firings. */
  readonly automation?: string;
}

/** Firings of every automation (`GET /api/firings`), newest first. */
export class FiringsApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  /** One page, newest first (`limit` default 100, at most 1000, on the server). */
  async list(filter: AllFiringsFilter & { limit?: number; cursor?: string } = {}): Promise<FiringPage> {
    const query = { automation: filter.automation, status: filter.status, since: instant(filter.since), until: instant(filter.until), limit: filter.limit, cursor: filter.cursor };
    return (await this.#http.request<FiringPage>('GET', '/api/firings', { query, retry: true })).body;
  }

  /** Every matching firing, newest first, fetched page by page as you iterate. */
  query(filter: AllFiringsFilter & { pageSize?: number } = {}): AsyncGenerator<Firing> {
    const { pageSize = 500, ...rest } = filter;
    return everyPage(async (cursor) => {
      const page = await this.list({ ...rest, limit: pageSize, ...(cursor !== undefined ? { cursor } : {}) });
      return { items: page.firings, ...(page.next !== undefined ? { next: page.next } : {}) };
    });
  }
}
