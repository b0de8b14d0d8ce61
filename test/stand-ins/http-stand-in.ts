import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * The base of the local HTTP servers that play external services in tests: records every
 * request, can be told to answer the next N requests with a fault (429 with Retry-After, 5xx),
 * and can hold requests open (to kill a worker mid-call).
 */

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly at: number;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface Fault {
  readonly status: number;
  readonly retryAfter?: string;
  readonly body?: unknown;
  /** Only requests whose path matches (default: all). */
  readonly path?: RegExp;
}

export type Route = (request: RecordedRequest) => Reply | Promise<Reply>;

export interface HttpStandIn {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** Answers the next `times` matching requests with `fault` before the service's own answer. */
  failNext(times: number, fault: Fault): void;
  /** Holds matching requests open (no answer) until `release()`; resolves `held` when the first arrives. */
  hold(path?: RegExp): { held: Promise<RecordedRequest>; release(): void };
  close(): Promise<void>;
}

function send(response: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  let payload = '';
  if (reply.body !== undefined) {
    if (typeof reply.body === 'string') {
      payload = reply.body;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(reply.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  response.writeHead(reply.status, headers);
  response.end(payload);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startHttpStandIn(route: Route, options: { host?: string } = {}): Promise<HttpStandIn> {
  const requests: RecordedRequest[] = [];
  const faults: Array<Fault & { remaining: number }> = [];
  const holds: Array<{ path: RegExp | undefined; arrived: (request: RecordedRequest) => void; released: Promise<void> }> = [];
  const host = options.host ?? '127.0.0.1';

  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const url = new URL(request.url ?? '/', 'http://stand-in');
      const recorded: RecordedRequest = {
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body,
        at: Date.now(),
      };
      requests.push(recorded);
      const hold = holds.find((candidate) => !candidate.path || candidate.path.test(recorded.path));
      if (hold) {
        hold.arrived(recorded);
        await hold.released;
      }
      const fault = faults.find((candidate) => candidate.remaining > 0 && (!candidate.path || candidate.path.test(recorded.path)));
      if (fault) {
        fault.remaining -= 1;
        send(response, {
          status: fault.status,
          body: fault.body ?? (fault.status === 429 ? 'rate limited' : 'stand-in fault'),
          headers: fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
        });
        return;
      }
      send(response, await route(recorded));
    })().catch((error: unknown) => {
      if (!response.headersSent) send(response, { status: 500, body: `stand-in error: ${String(error)}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    failNext(times, fault) {
      faults.push({ ...fault, remaining: times });
    },
    hold(path) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let arrived!: (request: RecordedRequest) => void;
      const held = new Promise<RecordedRequest>((resolve) => (arrived = resolve));
      const entry = { path, arrived, released };
      holds.push(entry);
      return {
        held,
        release() {
          holds.splice(holds.indexOf(entry), 1);
          release();
        },
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses a JSON body, or returns undefined. */
export function jsonBody(request: RecordedRequest): unknown {
  try {
    return JSON.parse(request.body) as unknown;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
