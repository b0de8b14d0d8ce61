import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { apiKeyScopes, newApiKey, type ApiKeyResource } from '../schemas/api-key.ts';
import { bootstrapKeyId, type ApiKeys } from './api-keys.ts';
import { jsonBody, parseBody } from './automations/http-input.ts';
import { problemSchema, toJsonSchema } from './automations/automation-schemas.ts';
import { HttpError } from '../platform/http/http-error.ts';

/*
 * API keys over HTTP (admin scope for every route; docs/reference/keys-api.md).
 *
 *   GET    /api/keys        the keys that authenticate, oldest first; never a secret
 *   POST   /api/keys        {name, scopes}: 201 with the key and its secret, shown this once; 422 by path
 *   DELETE /api/keys/{id}   revoke: 204; 404 unknown or already revoked. Every process stops
 *                           accepting it at once (NOTIFY vigil_api_keys).
 */

/** Every error answer: `{ error, message, errors?: [{ path, message }] }`. */
const problem = toJsonSchema(problemSchema, 'output');
const keyProperties = {
  id: { type: 'string', format: 'uuid', description: 'What DELETE /api/keys/{id} takes' },
  name: { type: 'string' },
  scopes: { type: 'array', items: { type: 'string', enum: [...apiKeyScopes] } },
  created_at: { type: 'string', format: 'date-time' },
  last_used_at: { type: 'string', format: 'date-time', nullable: true, description: 'When a request last authenticated with it (at most 10 s behind per Vigil process); null when never used' },
} as const;
const keySchema = { type: 'object', properties: keyProperties, required: ['id', 'name', 'scopes', 'created_at', 'last_used_at'] } as const;
const createdKeySchema = {
  type: 'object',
  properties: { ...keyProperties, secret: { type: 'string', description: 'The key itself, for `Authorization: Bearer <secret>`; shown this once (only its hash is stored)' } },
  required: ['id', 'name', 'scopes', 'created_at', 'last_used_at', 'secret'],
} as const;
const newKeyBody = z.toJSONSchema(newApiKey, { target: 'openapi-3.0', io: 'input' });

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

/** The API keys routes; all need the admin scope. */
export function registerApiKeyRoutes(app: FastifyInstance, keys: ApiKeys): void {
  const tags = ['keys'];

  app.get(
    '/api/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'List API keys (never their secrets)',
        description: 'The keys that authenticate, oldest first; revoked keys are not listed. The bootstrap key (VIGIL_ADMIN_KEY) is configuration, not a stored key, and is not listed.',
        tags,
        response: { 200: { type: 'object', properties: { keys: { type: 'array', items: keySchema } }, required: ['keys'] }, 401: problem, 403: problem },
      },
    },
    async (): Promise<{ keys: ApiKeyResource[] }> => ({ keys: await keys.list() }),
  );

  app.post(
    '/api/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create an API key',
        description:
          'The body names the key and its scopes (`events:write`, `read`, `admin`; `admin` covers everything). 201 with the key and its `secret`, which is shown this once: ' +
          'store it where the client reads it (e.g. VIGIL_API_KEY). 422 `invalid_key` lists every problem by path.',
        tags,
        body: newKeyBody,
        response: { 201: createdKeySchema, 400: problem, 401: problem, 403: problem, 415: problem, 422: problem },
      },
    },
    async (request, reply) => {
      const input = parseBody(newApiKey, jsonBody(request, '{"name": "airflow-prod", "scopes": ["events:write"]}'), 'invalid_key', 'the API key is invalid');
      const created = await keys.create(input.name, input.scopes);
      request.log.info({ keyId: created.id, name: created.name, scopes: created.scopes, by: request.apiKey?.id }, 'API key created');
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.delete(
    '/api/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Revoke an API key',
        description: 'The key stops authenticating at once, in every Vigil process. 204; 404 when no key that authenticates has this id (unknown or already revoked).',
        tags,
        params: { type: 'object', properties: { id: { type: 'string', description: 'The key id (from GET /api/keys)' } }, required: ['id'] },
        response: { 204: { type: 'null', description: 'Revoked' }, 401: problem, 403: problem, 404: problem },
      },
    },
    async (request, reply) => {
      const id = idOf(request);
      if (id === bootstrapKeyId) {
        throw new HttpError(404, 'not_found', 'the bootstrap admin key is VIGIL_ADMIN_KEY, not a stored key: change or unset the variable and restart Vigil to retire it');
      }
      if (!(await keys.revoke(id))) throw new HttpError(404, 'not_found', `no API key ${JSON.stringify(id.slice(0, 100))} that authenticates (unknown or already revoked)`);
      request.log.info({ keyId: id, by: request.apiKey?.id }, 'API key revoked');
      return reply.code(204).send();
    },
  );
}
