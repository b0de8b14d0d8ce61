import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { HttpError } from './http-error.ts';

/*
 * Rules every route follows, in one place (decision 0602):
 * - no control character (U+0000–U+001F, U+007F–U+009F) in a path parameter or a query value:
 *   400 naming it, before any handler or store sees it;
 * - only the query parameters a route declares (`schema.querystring`: its `properties`, and
 *   names matching its `patternProperties`): any other is a 400 naming it;
 * - `Content-Encoding: gzip` bodies are decompressed before the size limit is applied (so a
 *   small compressed body that inflates past the limit is a 413); any other encoding is a 415;
 * - the OpenAPI description lists the answers these rules and the authentication give (400,
 *   401, 403, 413, 415, 429) on every route they can come from.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The query parameters the route declares (set for every route by registerRequestRules). */
    queryRule?: QueryRule;
  }
}

interface QueryRule {
  readonly names: ReadonlySet<string>;
  readonly patterns: readonly RegExp[];
}

const problemSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

function queryRuleOf(schema: unknown): QueryRule {
  const querystring = (schema ?? {}) as { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown> };
  return {
    names: new Set(Object.keys(querystring.properties ?? {})),
    patterns: Object.keys(querystring.patternProperties ?? {}).map((pattern) => new RegExp(pattern)),
  };
}

function describeCharacter(value: string): string {
  const match = controlCharacter.exec(value);
  return match ? `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : '';
}

/** The 400 for a control character: the one shared rule for paths and queries. */
function controlCharacterError(where: 'path' | 'query', name: string, value: string): HttpError {
  const what = where === 'path' ? `path parameter ${name}` : `query parameter ${name}`;
  const message = `must not contain control characters (found ${describeCharacter(value)})`;
  return new HttpError(400, where === 'path' ? 'invalid_path' : 'invalid_query', `${what}: ${message}`, { details: { errors: [{ path: name, message }] } });
}

function isPublicTooling(url: string): boolean {
  return url === '/docs' || url.startsWith('/docs/');
}

const supportedEncodings = ['gzip', 'x-gzip', 'identity'];

/** The request body stream, decompressed when it is gzip; fastify's body limit counts what comes out. */
function decodedBody(payload: Readable, encoding: string): Readable {
  if (encoding === 'identity') return payload;
  const gunzip = createGunzip();
  const out = new PassThrough() as PassThrough & { receivedEncodedLength?: number };
  let received = 0;
  payload.on('data', (chunk: Buffer) => {
    received += chunk.length;
    out.receivedEncodedLength = received;
  });
  payload.on('error', (error) => out.destroy(error));
  gunzip.on('error', () => out.destroy(new HttpError(400, 'invalid_encoding', 'the request body is not valid gzip (Content-Encoding: gzip)')));
  out.on('close', () => gunzip.destroy());
  payload.pipe(gunzip).pipe(out);
  return out;
}

export function registerRequestRules(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (isPublicTooling(route.url)) return;
    const config = (route.config ?? {}) as { scope?: string };
    const schema = (route.schema ??= {}) as { querystring?: unknown; response?: Record<string, unknown>; hide?: boolean };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const withBody = methods.some((method) => ['POST', 'PUT', 'PATCH'].includes(method));
    const statuses = [400, ...(config.scope ? [401, 403, 429] : []), ...(withBody ? [413, 415] : [])];
    if (!schema.hide) {
      const response = (schema.response ??= {});
      // a route that declares no success answer answers 200 (health, metrics): say so before adding the errors
      if (!Object.keys(response).some((status) => status.startsWith('2'))) response[200] = { description: 'Success' };
      for (const status of statuses) response[status] ??= { description: 'The problem, with a code and a message', ...problemSchema };
    }
    route.config = { ...(route.config ?? {}), queryRule: queryRuleOf(schema.querystring) };
  });

  app.addHook('preValidation', (request, _reply, done) => {
    try {
      checkRequest(request);
      done();
    } catch (error) {
      done(error as HttpError);
    }
  });

  function checkRequest(request: FastifyRequest): void {
    const rule = request.routeOptions.config.queryRule;
    if (!rule) return;
    for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'string' && controlCharacter.test(value)) throw controlCharacterError('path', name, value);
    }
    const query = (request.query ?? {}) as Record<string, unknown>;
    for (const [name, value] of Object.entries(query)) {
      if (controlCharacter.test(name)) throw controlCharacterError('query', JSON.stringify(name), name);
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string' && controlCharacter.test(item)) throw controlCharacterError('query', name, item);
      }
      if (!rule.names.has(name) && !rule.patterns.some((pattern) => pattern.test(name))) {
        const known = [...rule.names].join(', ');
        const message = `unknown query parameter${known ? `; known: ${known}` : '; this route takes none'}`;
        throw new HttpError(400, 'invalid_query', `query parameter ${name}: ${message}`, { details: { errors: [{ path: name, message }] } });
      }
    }
  }

  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    const encoding = (Array.isArray(header) ? header.join(',') : (header ?? 'identity')).trim().toLowerCase() || 'identity';
    if (!supportedEncodings.includes(encoding)) {
      done(new HttpError(415, 'unsupported_encoding', `Content-Encoding "${encoding}" is not supported; send the body as is or gzip-compressed (Content-Encoding: gzip)`));
      return;
    }
    done(null, decodedBody(payload, encoding));
  });
}
