import { createHmac } from 'node:crypto';
import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { Executor } from '../executor.ts';
import { callOrThrow } from '../http.ts';
import { render, renderJson, renderRecord } from '../templates.ts';

/*
 * call-webhook: any HTTP endpoint. Every attempt carries the same `Idempotency-Key` (the action
 * run id), so a receiver can drop repeats of an at-least-once delivery. With a `webhook`
 * connection holding a signing secret, `X-Vigil-Signature: t=<unix seconds>,v1=<hex>` is
 * HMAC-SHA256(secret, "<t>.<body>"), the same scheme as Stripe's: the receiver recomputes it and
 * rejects stale timestamps.
 */

/** The signature header value for a body signed at `timestamp` (unix seconds). */
function signatureFor(secret: string, timestamp: number, body: string): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${digest}`;
}

export const execute: Executor<'call-webhook'> = async (context) => {
  const { action, scope } = context;
  const url = (await render(action.url, scope)).trim();
  if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) {
    throw new PermanentActionError(`webhook URL ${JSON.stringify(url.slice(0, 200))} is not an absolute http(s) URL`);
  }

  let body: string | undefined;
  let contentType: string | undefined;
  if (action.body === undefined) {
    if (action.method !== 'GET' && action.method !== 'DELETE') {
      body = JSON.stringify({ automation: context.job.context.automation, firing: context.job.context.firing, event: context.job.context.event });
      contentType = 'application/json';
    }
  } else if (typeof action.body === 'string') {
    body = await render(action.body, scope);
    contentType = action.content_type ?? 'text/plain; charset=utf-8';
  } else {
    body = JSON.stringify(await renderJson(action.body, scope));
    contentType = action.content_type ?? 'application/json';
  }

  const headers: Record<string, string> = { 'user-agent': 'vigil-actions/1' };
  for (const [name, value] of Object.entries(await renderRecord(action.headers, scope))) headers[name.toLowerCase()] = value;
  if (contentType && headers['content-type'] === undefined) headers['content-type'] = contentType;

  if (action.connection) {
    const connection = await context.connections.resolve(action.connection, 'webhook');
    for (const [name, value] of Object.entries(connection.headers)) headers[name.toLowerCase()] = value;
    if (connection.signing_secret) {
      const timestamp = Math.floor(Date.now() / 1000);
      headers[action.signature_header.toLowerCase()] = signatureFor(connection.signing_secret, timestamp, body ?? '');
      headers['x-vigil-timestamp'] = String(timestamp);
    }
  }
  // Set last: neither templates nor connections can change the delivery identity.
  headers['idempotency-key'] = context.runId;
  headers['x-vigil-delivery'] = context.runId;
  headers['x-vigil-attempt'] = String(context.attempt);

  const response = await callOrThrow(context.http, `webhook ${new URL(url).host}`, {
    url,
    method: action.method,
    headers,
    ...(body === undefined ? {} : { body }),
    timeoutMs: context.timeoutMs,
    signal: context.signal,
  });
  return { responseStatus: response.status, responseBody: response.body };
};
