import { createHmac, timingSafeEqual } from 'node:crypto';
import { header, startHttpStandIn, type HttpStandIn, type RecordedRequest } from './http-stand-in.ts';

/*
 * A webhook receiver as a careful integrator writes one: verifies the HMAC signature
 * (`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, timestamps within 5 minutes) when it
 * has a secret, requires an Idempotency-Key, and counts each key once (`deliveries`) while
 * recording every request (`requests`). `redirect(path, location)` answers 302 for a path.
 */

export interface WebhookReceiver extends HttpStandIn {
  /** Distinct idempotency keys seen with a valid request, in arrival order. */
  readonly deliveries: string[];
  /** Every request carrying this idempotency key. */
  attemptsOf(key: string): RecordedRequest[];
  redirect(path: string, location: string, status?: number): void;
}

export function verifySignature(secret: string, signatureHeader: string | undefined, body: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  if (!signatureHeader) return false;
  const parts = Object.fromEntries(signatureHeader.split(',').map((part) => part.split('=', 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > 300 || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startWebhookReceiver(options: { secret?: string; host?: string } = {}): Promise<WebhookReceiver> {
  const deliveries: string[] = [];
  const seen = new Set<string>();
  const redirects = new Map<string, { location: string; status: number }>();
  const standIn = await startHttpStandIn(
    (request) => {
      const redirect = redirects.get(request.path);
      if (redirect) return { status: redirect.status, headers: { location: redirect.location }, body: '' };
      const key = header(request, 'idempotency-key');
      if (!key) return { status: 400, body: { error: 'Idempotency-Key header is required' } };
      if (options.secret && !verifySignature(options.secret, header(request, 'x-vigil-signature'), request.body)) {
        return { status: 401, body: { error: 'bad signature' } };
      }
      if (!seen.has(key)) {
        seen.add(key);
        deliveries.push(key);
        return { status: 200, body: { received: true } };
      }
      return { status: 200, body: { received: true, duplicate: true } };
    },
    options.host === undefined ? {} : { host: options.host },
  );
  return {
    ...standIn,
    deliveries,
    attemptsOf: (key) => standIn.requests.filter((request) => header(request, 'idempotency-key') === key),
    redirect(path, location, status = 302) {
      redirects.set(path, { location, status });
    },
  };
}
