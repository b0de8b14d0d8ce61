import { parseRetryAfter, retryDelay, sleep, type BackoffOptions } from './backoff.ts';
import { messageOf, VigilApiError, type ApiProblem } from './errors.ts';

export type QueryValue = string | number | boolean | Date | undefined | null;
export type Query = Readonly<Record<string, QueryValue>>;

export interface TransportOptions extends BackoffOptions {
  /** Base URL of Vigil, e.g. http://127.0.0.1:7700 (a path prefix is kept: https://host/vigil). */
  readonly url: string;
  readonly apiKey: string;
  /** Timeout of one HTTP request (not of a live stream). */
  readonly timeoutMs: number;
  /** Retries of idempotent management calls (GET, PUT, DELETE) on 429, 502, 503 and 504. */
  readonly managementRetries: number;
  readonly userAgent: string;
}

export interface RequestOptions {
  readonly query?: Query;
  /** JSON body. */
  readonly body?: unknown;
  /** Pre-serialized body; sent as is with `contentType`. */
  readonly rawBody?: string;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Statuses other than 2xx that are answers, not errors (e.g. 422 of a validation call). */
  readonly accept?: readonly number[];
  /** Whether a 429/502/503/504 may be retried (idempotent requests only). */
  readonly retry?: boolean;
}

export interface TransportResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** Statuses management calls retry: the server said "not now", not "no". */
const transientStatuses = new Set([429, 502, 503, 504]);

function problemList(value: unknown): ApiProblem[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const problems: ApiProblem[] = [];
  for (const item of value) {
    if (item === null || typeof item !== 'object') continue;
    const { index, path, message } = item as Record<string, unknown>;
    problems.push({
      ...(typeof index === 'number' ? { index } : {}),
      path: typeof path === 'string' ? path : Array.isArray(path) ? path.join('.') : '',
      message: typeof message === 'string' ? message : JSON.stringify(item),
    });
  }
  return problems;
}

/** Reads a response body: JSON when it says so (or looks like it), else text; undefined when empty. */
async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** A non-2xx response as a VigilApiError with the server's code, message and problems. */
export function apiError(status: number, statusText: string, headers: Headers, body: unknown): VigilApiError {
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const fields = body as Record<string, unknown>;
    const code = typeof fields.error === 'string' ? fields.error : `http_${status}`;
    const message = typeof fields.message === 'string' ? fields.message : `${status} ${statusText}`.trim();
    const errors = problemList(fields.errors);
    return new VigilApiError(status, code, message, { ...(errors ? { errors } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), body });
  }
  const text = typeof body === 'string' ? body.trim().split('\n')[0]!.slice(0, 300) : '';
  return new VigilApiError(status, `http_${status}`, text || `${status} ${statusText}`.trim(), {
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(body !== undefined ? { body } : {}),
  });
}

/** A fetch failure (no response) as a VigilApiError with status 0. */
export function networkError(error: unknown, url: URL, signal?: AbortSignal): VigilApiError {
  if (signal?.aborted && signal.reason instanceof Error && signal.reason.name === 'TimeoutError') {
    return new VigilApiError(0, 'timeout', `no answer from Vigil at ${url.origin} in time (${messageOf(signal.reason)})`, { cause: error });
  }
  if (error instanceof Error && error.name === 'AbortError') {
    return new VigilApiError(0, 'aborted', `the request to ${url.origin} was aborted`, { cause: error });
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : messageOf(error);
  return new VigilApiError(0, 'network_error', `cannot reach Vigil at ${url.origin}: ${cause}`, { cause: error });
}

/** HTTP with Vigil: bearer auth, JSON bodies, problem bodies as VigilApiError. */
export class HttpTransport {
  readonly baseUrl: URL;
  readonly options: TransportOptions;

  constructor(options: TransportOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(`url must be an absolute http(s) URL such as http://127.0.0.1:7700; got ${JSON.stringify(options.url)}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`url must use http or https; got ${JSON.stringify(options.url)}`);
    if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
    base.search = '';
    base.hash = '';
    this.baseUrl = base;
    this.options = options;
  }

  /** The absolute URL of an API path (`/api/events`) with query parameters (undefined ones left out). */
  url(path: string, query: Query = {}): URL {
    const url = new URL(path.replace(/^\/+/, ''), this.baseUrl);
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      url.searchParams.set(key, value instanceof Date ? value.toISOString() : String(value));
    }
    return url;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.apiKey}`, 'user-agent': this.options.userAgent, accept: 'application/json', ...extra };
  }

  /** One fetch with the request timeout; network failures become VigilApiError (status 0). */
  async fetch(url: URL, init: RequestInit & { signal?: AbortSignal | undefined }, timeoutMs: number | null = this.options.timeoutMs): Promise<Response> {
    const signals = [init.signal, timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs)].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    try {
      return await fetch(url, { ...init, ...(signal ? { signal } : {}) });
    } catch (error) {
      throw networkError(error, url, signal);
    }
  }

  /** A JSON request; throws VigilApiError on non-2xx (except `accept`ed statuses) and on network errors. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<TransportResponse<T>> {
    const url = this.url(path, options.query);
    const hasBody = options.rawBody !== undefined || options.body !== undefined;
    const body = options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
    const headers = this.headers(hasBody ? { 'content-type': options.contentType ?? 'application/json' } : {});
    const retries = options.retry ? this.options.managementRetries : 0;
    for (let attempt = 0; ; attempt++) {
      const response = await this.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: options.signal });
      const parsed = await readBody(response).catch((error: unknown) => {
        throw networkError(error, url);
      });
      if (response.ok || options.accept?.includes(response.status)) {
        return { status: response.status, body: parsed as T, headers: response.headers };
      }
      const error = apiError(response.status, response.statusText, response.headers, parsed);
      if (attempt >= retries || !transientStatuses.has(response.status) || options.signal?.aborted) throw error;
      await sleep(retryDelay(attempt, this.options, error.retryAfterMs), options.signal);
    }
  }
}
