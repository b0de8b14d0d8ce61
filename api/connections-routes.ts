import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ConnectionError,
  ConnectionValidationError,
  SecretKeyMissingError,
  redacted,
  secretKeyMissingMessage,
  type ConnectionsRepository,
} from '../actions/connections.ts';
import { decodeUtf8, mediaType, parseJson } from '../platform/http/request-body.ts';
import { connectionConfig, connectionName, type RedactedConnection } from '../schemas/connection.ts';
import { HttpError } from '../platform/http/http-error.ts';

/*
 * Connections: the named credentials actions use (admin scope for every route).
 *
 *   GET    /api/connections           all, secrets redacted
 *   GET    /api/connections/{name}    one, secrets redacted; 404
 *   PUT    /api/connections/{name}    upsert with the connection JSON (schemas/connection.ts):
 *                                     201 created / 200 replaced; 422 with path-level errors;
 *                                     409 secret_key_missing without VIGIL_SECRET_KEY
 *   DELETE /api/connections/{name}    204; 404
 *
 * Secrets are write-only: every response shows them as "[redacted]". A secret field sent as
 * "[redacted]" keeps the stored value, so a connection read from the API can be edited and put back.
 */

function nameOf(request: FastifyRequest): string {
  const name = (request.params as { name: string }).name;
  const parsed = connectionName.safeParse(name);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'invalid';
    throw new HttpError(400, 'invalid_name', `connection name ${JSON.stringify(name.slice(0, 140))}: ${message}`, {
      details: { errors: [{ path: 'name', message }] },
    });
  }
  return parsed.data;
}

function isJson(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** The PUT body: strict UTF-8 JSON, sent as application/json. */
function connectionBody(request: FastifyRequest): unknown {
  const type = mediaType(request.headers['content-type']);
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (body.length === 0) throw new HttpError(400, 'malformed_json', 'the request body is empty; expected the connection as JSON, e.g. {"kind": "webhook", "signing_secret": "…"}');
  if (!isJson(type)) {
    throw new HttpError(415, 'unsupported_media_type', `${type ? `content type "${type}" is not supported` : 'the Content-Type header is missing'}; send the connection as application/json`);
  }
  return parseJson(decodeUtf8(body));
}

function notFound(name: string): HttpError {
  return new HttpError(404, 'not_found', `no connection ${JSON.stringify(name)}`);
}

const problem = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;
const invalidProblem = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
  required: ['error', 'message'],
} as const;
const connectionSchema = {
  type: 'object',
  description: `A connection; every secret field reads "${redacted}"`,
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['slack', 'webhook', 'prefect', 'airflow'] },
    config: { type: 'object', additionalProperties: true, description: 'The connection JSON (with its kind), secrets redacted' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;
const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$', description: 'The connection name actions refer to' } },
  required: ['name'],
} as const;
const connectionJsonSchema = z.toJSONSchema(connectionConfig, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });

/** The connections routes; all need the admin scope. */
export function registerConnectionRoutes(app: FastifyInstance, connections: ConnectionsRepository): void {
  app.get(
    '/api/connections',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List connections (secrets redacted)',
        tags: ['connections'],
        response: { 200: { type: 'object', properties: { connections: { type: 'array', items: connectionSchema } }, required: ['connections'] }, 401: problem, 403: problem },
      },
    },
    async () => ({ connections: await connections.list() }),
  );

  app.get(
    '/api/connections/:name',
    {
      config: { scope: 'admin' },
      schema: { summary: 'Read a connection (secrets redacted)', tags: ['connections'], params: nameParams, response: { 200: connectionSchema, 400: invalidProblem, 401: problem, 403: problem, 404: problem } },
    },
    async (request): Promise<RedactedConnection> => {
      const name = nameOf(request);
      const connection = await connections.get(name);
      if (!connection) throw notFound(name);
      return connection;
    },
  );

  app.put(
    '/api/connections/:name',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create or replace a connection',
        description:
          'The body is the connection JSON with its `kind` (see docs/reference/actions.md). Secret fields are encrypted with VIGIL_SECRET_KEY and never returned; ' +
          `a secret field sent as "${redacted}" keeps the value stored for this connection. 201 when created, 200 when replaced; ` +
          '422 lists every problem by path; 409 `secret_key_missing` when the server has no VIGIL_SECRET_KEY.',
        tags: ['connections'],
        params: nameParams,
        body: connectionJsonSchema,
        response: { 200: connectionSchema, 201: connectionSchema, 400: invalidProblem, 401: problem, 403: problem, 409: problem, 415: problem, 422: invalidProblem },
      },
    },
    async (request, reply) => {
      const name = nameOf(request);
      const body = connectionBody(request);
      let saved: RedactedConnection;
      try {
        saved = await connections.upsert(name, body);
      } catch (error) {
        if (error instanceof ConnectionValidationError) {
          throw new HttpError(422, 'invalid_connection', error.message, { details: { errors: error.problems } });
        }
        if (error instanceof SecretKeyMissingError) {
          throw new HttpError(409, 'secret_key_missing', `connection ${JSON.stringify(name)} was not saved: ${secretKeyMissingMessage}`);
        }
        if (error instanceof ConnectionError) {
          // A kept ("[redacted]") secret cannot be read with the configured key.
          throw new HttpError(409, 'secret_unreadable', `connection ${JSON.stringify(name)} was not saved: ${error.message}; send every secret's value`);
        }
        throw error;
      }
      return reply.code(saved.created_at === saved.updated_at ? 201 : 200).send(saved);
    },
  );

  app.delete(
    '/api/connections/:name',
    {
      config: { scope: 'admin' },
      schema: { summary: 'Delete a connection', description: 'Actions that refer to it fail (not retried) until a connection of that name exists again.', tags: ['connections'], params: nameParams, response: { 204: { type: 'null' }, 400: invalidProblem, 401: problem, 403: problem, 404: problem } },
    },
    async (request, reply) => {
      const name = nameOf(request);
      if (!(await connections.delete(name))) throw notFound(name);
      return reply.code(204).send();
    },
  );
}
