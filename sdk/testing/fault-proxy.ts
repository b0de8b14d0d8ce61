import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request that reached the proxy. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What the proxy does with a request: answer it itself, cut the connection, or forward it (optionally with another body). */
export type ProxyDecision =
  | { readonly answer: { status: number; headers?: Record<string, string>; body?: string } }
  | { readonly drop: true }
  | { readonly forward: true; readonly body?: string };

export interface FaultProxy {
  readonly url: string;
  /** Every request in arrival order. */
  readonly requests: ProxiedRequest[];
  /** Requests to one path (without query), e.g. `POST /api/events`. */
  requestsTo(method: string, path: string): ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * A real HTTP server in front of a real Vigil for tests: it records every request and, as
 * `decide` says (now or later: it may return a promise), answers some itself (503 with
 * Retry-After), cuts the connection, or forwards them — responses, live streams included, are
 * piped back as they come.
 */
export async function startFaultProxy(
  target: string,
  decide: (request: ProxiedRequest, index: number) => ProxyDecision | Promise<ProxyDecision> = () => ({ forward: true }),
): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();

  const act = (decision: ProxyDecision, request: ProxiedRequest, incoming: IncomingMessage, response: ServerResponse): void => {
    if ('answer' in decision) {
      response.writeHead(decision.answer.status, { 'content-type': 'application/json', ...decision.answer.headers });
      response.end(decision.answer.body ?? '');
      return;
    }
    if ('drop' in decision) {
      incoming.socket.destroy();
      return;
    }
    const body = decision.body ?? request.body;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const headers: IncomingMessage['headers'] = { ...incoming.headers, host: targetUrl.host };
    if (hasBody) headers['content-length'] = String(Buffer.byteLength(body));
    const upstream = httpRequest({ hostname: targetUrl.hostname, port: targetUrl.port, method: request.method, path: request.path, headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    response.on('close', () => upstream.destroy());
    upstream.end(hasBody ? body : undefined);
  };

  const handle = (incoming: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const request: ProxiedRequest = { method: incoming.method ?? 'GET', path: incoming.url ?? '/', headers: incoming.headers, body: Buffer.concat(chunks).toString('utf8') };
      const index = requests.push(request) - 1;
      void Promise.resolve(decide(request, index)).then((decision) => act(decision, request, incoming, response));
    });
  };

  const server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsTo: (method, path) => requests.filter((request) => request.method === method && request.path.split('?')[0] === path),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
