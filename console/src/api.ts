/*
 * The console's only way to the server: the public HTTP API, with the signed-in API key as a
 * bearer token. Errors come back as ApiError with the API's code and path-level problems.
 */

export interface Problem {
  readonly path: string;
  readonly message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problems: readonly Problem[];

  constructor(status: number, code: string, message: string, problems: readonly Problem[]) {
    super(message);
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

const storageKey = 'vigil.apiKey';

/** The API key of this browser tab (sessionStorage: gone when the tab closes, never sent as a cookie). */
export const keyStore = {
  get: (): string | null => sessionStorage.getItem(storageKey),
  set: (key: string): void => sessionStorage.setItem(storageKey, key),
  clear: (): void => sessionStorage.removeItem(storageKey),
};

let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

function problemsOf(body: Record<string, unknown>): Problem[] {
  const lists = [body['errors'], (body['details'] as Record<string, unknown> | undefined)?.['errors']];
  for (const list of lists) {
    if (Array.isArray(list)) return list.filter((p): p is Problem => typeof p === 'object' && p !== null && 'path' in p && 'message' in p);
  }
  return [];
}

export async function request<T>(method: string, path: string, body?: unknown, key: string | null = keyStore.get()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { error: 'bad_response', message: text.slice(0, 200) };
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as Record<string, unknown>;
    if (response.status === 401 && key === keyStore.get()) onUnauthorized();
    const text = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
    throw new ApiError(response.status, text(problem['error'], 'error'), text(problem['message'], response.statusText), problemsOf(problem));
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string): Promise<T> => request<T>('GET', path),
  post: <T>(path: string, body?: unknown): Promise<T> => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown): Promise<T> => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown): Promise<T> => request<T>('PATCH', path, body),
  delete: (path: string): Promise<void> => request<void>('DELETE', path),
};

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * Reads a Server-Sent Events stream with fetch (EventSource cannot send the Authorization
 * header) and calls `onEvent` with each `data:` payload parsed as JSON, until `signal` aborts.
 */
export async function readEventStream(path: string, onEvent: (data: unknown) => void, signal: AbortSignal): Promise<void> {
  const key = keyStore.get();
  const response = await fetch(path, { headers: { accept: 'text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) }, signal });
  if (!response.ok || !response.body) throw new ApiError(response.status, 'stream_failed', `the live stream answered ${response.status}`, []);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data) {
        try {
          onEvent(JSON.parse(data));
        } catch {
          // a comment or heartbeat without JSON
        }
      }
      end = buffer.indexOf('\n\n');
    }
  }
}
