/**
 * A lean HTTP/1.1 client pool and receiver for the pipeline benchmark. The load generator and
 * the webhook receiver share the machine's 2 cores with Vigil and its services; undici's
 * `request` and `node:http`'s server cost several times what the bytes on the wire need, and
 * that CPU is taken from the system being measured. These speak just enough HTTP/1.1 for the
 * benchmark: keep-alive connections, one request in flight per connection (a client that waits
 * for each answer, as an emitter does), `content-length` bodies. Anything else (a chunked
 * body, a malformed head) is an error, never silently accepted.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LeanResponse {
  readonly status: number;
  readonly body: Buffer;
}

const headEnd = Buffer.from('\r\n\r\n');

interface ParsedHead {
  readonly firstLine: string;
  /** undefined when the head has no content-length. */
  readonly contentLength: number | undefined;
  /** Bytes of the head, terminator included. */
  readonly headBytes: number;
}

/** Parses a message head at the start of `buffer`; undefined until the whole head is there. */
function parseHead(buffer: Buffer): ParsedHead | undefined {
  const end = buffer.indexOf(headEnd);
  if (end < 0) return undefined;
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  let contentLength: number | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') contentLength = Number(value);
    if (name === 'transfer-encoding' && value.toLowerCase() !== 'identity') throw new Error(`unsupported transfer-encoding: ${value}`);
  }
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) throw new Error(`bad content-length in: ${lines[0]}`);
  return { firstLine: lines[0] ?? '', contentLength, headBytes: end + headEnd.length };
}

/**
 * Takes every complete message off the front of `buffer`; returns the bytes left over. A request
 * without content-length has no body; a response must have one (a body read until the
 * connection closes is not supported).
 */
function takeMessages(buffer: Buffer, kind: 'request' | 'response', onMessage: (firstLine: string, body: Buffer) => void): Buffer {
  let rest = buffer;
  for (;;) {
    const head = parseHead(rest);
    if (!head) return rest;
    if (head.contentLength === undefined && kind === 'response') throw new Error(`response without content-length: ${head.firstLine}`);
    const length = head.contentLength ?? 0;
    if (rest.length < head.headBytes + length) return rest;
    onMessage(head.firstLine, rest.subarray(head.headBytes, head.headBytes + length));
    rest = rest.subarray(head.headBytes + length);
  }
}

interface Pending {
  readonly bytes: Buffer;
  readonly resolve: (response: LeanResponse) => void;
  readonly reject: (error: Error) => void;
}

class Connection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #current: Pending | undefined;
  #broken: Error | undefined;
  readonly #onIdle: (connection: Connection) => void;
  readonly #onBroken: (connection: Connection) => void;

  constructor(host: string, port: number, onIdle: (connection: Connection) => void, onBroken: (connection: Connection) => void) {
    this.#onIdle = onIdle;
    this.#onBroken = onBroken;
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('close', () => this.#fail(new Error('connection closed by the server')));
  }

  get usable(): boolean {
    return !this.#broken;
  }

  send(pending: Pending): void {
    if (this.#broken) {
      pending.reject(this.#broken);
      return;
    }
    this.#current = pending;
    this.#socket.write(pending.bytes);
  }

  close(): void {
    this.#broken ??= new Error('client closed');
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      this.#buffer = takeMessages(this.#buffer, 'response', (statusLine, body) => {
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
        const current = this.#current;
        if (!current || !Number.isInteger(status) || status < 200) throw new Error(`unexpected response: ${statusLine}`);
        this.#current = undefined;
        current.resolve({ status, body: Buffer.from(body) });
        this.#onIdle(this);
      });
    } catch (error) {
      this.#fail(error as Error);
      this.#socket.destroy();
    }
  }

  #fail(error: Error): void {
    const first = !this.#broken;
    this.#broken ??= error;
    const current = this.#current;
    this.#current = undefined;
    current?.reject(error);
    if (first) this.#onBroken(this);
  }
}

/** Keep-alive connections to one origin, opened as needed up to `connections`; requests wait for a free one. */
export class LeanHttpClient {
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #waiting: Pending[] = [];
  readonly #host: string;
  readonly #port: number;
  readonly #connections: number;

  constructor(host: string, port: number, connections: number) {
    this.#host = host;
    this.#port = port;
    this.#connections = connections;
  }

  request(method: string, path: string, headers: Readonly<Record<string, string>>, body: string): Promise<LeanResponse> {
    const payload = Buffer.from(body, 'utf8');
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}:${this.#port}\r\ncontent-length: ${payload.length}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    const bytes = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]);
    return new Promise<LeanResponse>((resolve, reject) => this.#dispatch({ bytes, resolve, reject }));
  }

  close(): void {
    for (const connection of this.#all) connection.close();
    for (const pending of this.#waiting.splice(0)) pending.reject(new Error('client closed'));
  }

  #dispatch(pending: Pending): void {
    let connection = this.#idle.pop();
    while (connection && !connection.usable) connection = this.#idle.pop();
    if (!connection && this.#all.size < this.#connections) {
      connection = new Connection(
        this.#host,
        this.#port,
        (free) => this.#release(free),
        (broken) => this.#forget(broken),
      );
      this.#all.add(connection);
    }
    if (connection) connection.send(pending);
    else this.#waiting.push(pending);
  }

  /** A broken connection leaves the pool; a request waiting for one gets a new connection. */
  #forget(connection: Connection): void {
    this.#all.delete(connection);
    const index = this.#idle.indexOf(connection);
    if (index >= 0) this.#idle.splice(index, 1);
    const next = this.#waiting.shift();
    if (next) this.#dispatch(next);
  }

  #release(connection: Connection): void {
    const next = this.#waiting.shift();
    if (next) connection.send(next);
    else this.#idle.push(connection);
  }
}

/**
 * An HTTP/1.1 server that answers every request `200 ok` and hands its body to `onRequest`
 * (keep-alive, pipelining allowed). Resolves with its port once listening.
 */
export async function startLeanReceiver(onRequest: (requestLine: string, body: Buffer) => void): Promise<{ port: number; close(): Promise<void> }> {
  const answer = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok', 'latin1');
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      try {
        let answered = 0;
        buffer = takeMessages(buffer, 'request', (requestLine, body) => {
          onRequest(requestLine, body);
          answered += 1;
        });
        if (answered > 0) socket.write(answered === 1 ? answer : Buffer.concat(Array.from({ length: answered }, () => answer)));
      } catch (error) {
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        console.error(`lean receiver: ${(error as Error).message}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('receiver has no TCP address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
