import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ConnectionError,
  ConnectionValidationError,
  SecretKeyMissingError,
  redacted,
  secretKeyMissingMessage,
  secretSet,
  type ConnectionsRepository,
} from '../actions/connections.ts';
import { decodeUtf8, mediaType, parseJson } from '../platform/http/request-body.ts';
import type { ConnectionTester } from '../actions/connection-test.ts';
import { connectionConfig, connectionName, type RedactedConnection } from '../schemas/connection.ts';
import type { ConnectionTestResult } from '../schemas/api-resources.ts';
import { unprocessable } from './automations/http-input.ts';
import { problemSchema, toJsonSchema } from './automations/automation-schemas.ts';
import { HttpError } from '../platform/http/http-error.ts';

/*
 * Connections: the named credentials actions use (admin scope for every route).
 *
 *   GET    /api/connections           all, secrets shown as "set"
 *   GET    /api/connections/{name}    one, secrets shown as "set"; 404
 *   PUT    /api/connections/{name}    upsert with the connection JSON (schemas/connection.ts):
 *                                     201 created / 200 replaced; 422 with path-level errors;
 *                                     409 secret_key_missing without VIGIL_SECRET_KEY
 *   DELETE /api/connections/{name}    204; 404
 *   POST   /api/connections/{name}/test   one harmless call with it (actions/connection-test.ts): 200 with
 *                                     status ok | failed | not_testable and what each call found; 404;
 *                                     409 when its secrets cannot be decrypted
 *
 * Secrets are write-only: a response shows each secret field that holds a value as "set" and
 * leaves out those never given. A secret field sent as "set" (or the older "[redacted]") keeps
 * the stored value, so a connection read from the API can be edited and put back.
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

/** Every error answer: `{ error, message, errors?: [{ path, message }] }`. */
const problem = toJsonSchema(problemSchema, 'output');
const connectionSchema = {
  type: 'object',
  description: `A connection; each secret field that holds a value reads "${secretSet}" (secret fields never given are left out)`,
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['slack', 'webhook', 'prefect', 'airflow'] },
    config: { type: 'object', additionalProperties: true, description: `The connection JSON (with its kind); secrets that hold a value read "${secretSet}"` },
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

const testResultSchema = {
  type: 'object',
  properties: {
    connection: { type: 'string' },
    kind: { type: 'string', enum: ['slack', 'webhook', 'prefect', 'airflow'] },
    status: { type: 'string', enum: ['ok', 'failed', 'not_testable'], description: '`ok`: every call passed; `failed`: one did (see message); `not_testable`: no harmless call exists (see message)' },
    message: { type: 'string', description: 'What the calls found, or why the test failed or cannot be made' },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          check: { type: 'string', description: 'The call, e.g. `GET /health`, `POST auth.test`' },
          ok: { type: 'boolean' },
          detail: { type: 'string' },
          http_status: { type: 'integer', description: 'Absent when no answer arrived' },
          duration_ms: { type: 'integer' },
        },
        required: ['check', 'ok', 'detail', 'duration_ms'],
      },
    },
  },
  required: ['connection', 'kind', 'status', 'message', 'checks'],
} as const;

/** The test request's body: nothing, or an empty JSON object. */
function checkTestBody(request: FastifyRequest): void {
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (body.length === 0) return;
  const value = connectionBody(request);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw unprocessable('invalid_test_request', 'the test request is invalid', [{ path: '', message: 'must be empty or {}' }]);
  const fields = Object.keys(value);
  if (fields.length > 0) throw unprocessable('invalid_test_request', 'the test request is invalid', fields.map((field) => ({ path: field, message: 'unknown field; the test takes no options' })));
}

/** The connections routes; all need the admin scope. Without a tester, POST …/test is not mounted. */
export function registerConnectionRoutes(app: FastifyInstance, connections: ConnectionsRepository, tester?: ConnectionTester): void {
  app.get(
    '/api/connections',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List connections (secrets shown as "set")',
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
      schema: { summary: 'Read a connection (secrets shown as "set")', tags: ['connections'], params: nameParams, response: { 200: connectionSchema, 400: problem, 401: problem, 403: problem, 404: problem } },
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
          `a secret field sent as "${secretSet}" (or "${redacted}") keeps the value stored for this connection. 201 when created, 200 when replaced; ` +
          '422 lists every problem by path; 409 `secret_key_missing` when the server has no VIGIL_SECRET_KEY.',
        tags: ['connections'],
        params: nameParams,
        body: connectionJsonSchema,
        response: { 200: connectionSchema, 201: connectionSchema, 400: problem, 401: problem, 403: problem, 409: problem, 415: problem, 422: problem },
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

  if (tester) {
    app.post(
      '/api/connections/:name/test',
      {
        config: { scope: 'admin' },
        schema: {
          summary: 'Test a connection with one harmless call',
          description:
            'Calls the service with the stored connection, through the same HTTP code and egress guard as the actions, and changes nothing: ' +
            'Prefect `GET {api_url}/health` and `POST {api_url}/deployments/count`; Airflow `GET /api/vN/version` and `GET /api/vN/dags?limit=1` ' +
            '(Airflow 3 with a username: after a fresh token from `POST /auth/token`); Slack bot token `auth.test`. ' +
            'Slack incoming webhooks and webhook connections are `not_testable` (the message says why). ' +
            '200 with the outcome, also when the service refused (`status: failed`, `message` says why); 404 unknown connection; ' +
            '409 `secret_key_missing` / `secret_unreadable` when its secrets cannot be decrypted. The body is empty (or `{}`).',
          tags: ['connections'],
          params: nameParams,
          response: { 200: testResultSchema, 400: problem, 401: problem, 403: problem, 404: problem, 409: problem, 415: problem, 422: problem },
        },
      },
      async (request): Promise<ConnectionTestResult> => {
        const name = nameOf(request);
        checkTestBody(request);
        if (!(await connections.get(name))) throw notFound(name);
        try {
          const result = await tester.test(name);
          request.log.info({ connection: name, kind: result.kind, status: result.status }, 'connection tested');
          return result;
        } catch (error) {
          if (error instanceof SecretKeyMissingError) throw new HttpError(409, 'secret_key_missing', `connection ${JSON.stringify(name)} cannot be tested: ${secretKeyMissingMessage}`);
          if (error instanceof ConnectionError) throw new HttpError(409, 'secret_unreadable', `connection ${JSON.stringify(name)} cannot be tested: ${error.message}`);
          throw error;
        }
      },
    );
  }

  app.delete(
    '/api/connections/:name',
    {
      config: { scope: 'admin' },
      schema: { summary: 'Delete a connection', description: 'Actions that refer to it fail (not retried) until a connection of that name exists again.', tags: ['connections'], params: nameParams, response: { 204: { type: 'null' }, 400: problem, 401: problem, 403: problem, 404: problem } },
    },
    async (request, reply) => {
      const name = nameOf(request);
      if (!(await connections.delete(name))) throw notFound(name);
      return reply.code(204).send();
    },
  );
}
