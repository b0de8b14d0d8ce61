import { request, type Dispatcher } from 'undici';
import { classifyTransportError, throwUnlessSuccess } from './retry-policy.ts';

/** Most response-body bytes read (the rest is discarded); the run record keeps fewer. */
const maxBodyBytes = 64 * 1024;

export interface HttpCall {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export type HttpClient = (call: HttpCall) => Promise<HttpResult>;

async function readCapped(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < maxBodyBytes) {
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBodyBytes).toString('utf8');
}

/** An HTTP client on a dispatcher (the egress guard's): a timeout per call, bodies read up to 64 KiB. */
export function createHttpClient(dispatcher: Dispatcher): HttpClient {
  return async (call) => {
    const timeout = AbortSignal.timeout(call.timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    const response = await request(call.url, {
      dispatcher,
      method: call.method,
      headers: call.headers ?? {},
      body: call.body ?? null,
      signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
    const body = await readCapped(response.body);
    return { status: response.statusCode, headers: response.headers, body };
  };
}

/**
 * One call whose failures are already classified for the queue: transport errors and non-2xx
 * answers become RetryableHttpError / PermanentHttpError. `what` names the call in messages.
 */
export async function callOrThrow(http: HttpClient, what: string, call: HttpCall): Promise<HttpResult> {
  let result: HttpResult;
  try {
    result = await http(call);
  } catch (error) {
    throw classifyTransportError(what, error);
  }
  throwUnlessSuccess(what, result.status, result.body, result.headers['retry-after']);
  return result;
}

/** Parses a JSON body, or returns undefined. */
export function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
