import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Scope } from '../schemas/api-key.ts';
import { allows, type ApiKey, type ApiKeys } from './api-keys.ts';
import { HttpError } from '../platform/http/http-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public (health, metrics, docs). */
    scope?: Scope;
  }
}

function bearerSecret(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (!header) {
    throw new HttpError(401, 'unauthorized', 'missing Authorization header; send `Authorization: Bearer <api key>`', {
      headers: { 'www-authenticate': 'Bearer realm="vigil"' },
    });
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new HttpError(401, 'unauthorized', 'the Authorization header must be `Bearer <api key>`', {
      headers: { 'www-authenticate': 'Bearer realm="vigil", error="invalid_request"' },
    });
  }
  return match[1]!;
}

/** Checks the API key of every route that declares a scope: 401 without a valid key, 403 without the scope. */
export function registerAuthentication(app: FastifyInstance, keys: ApiKeys): void {
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config.scope;
    if (!needed) return;
    const key = await keys.verify(bearerSecret(request));
    if (!key) {
      throw new HttpError(401, 'unauthorized', 'the API key is unknown or revoked', {
        headers: { 'www-authenticate': 'Bearer realm="vigil", error="invalid_token"' },
      });
    }
    if (!allows(key, needed)) {
      throw new HttpError(403, 'forbidden', `this API key lacks the "${needed}" scope (it has: ${key.scopes.join(', ')})`);
    }
    request.apiKey = key;
  });
}
