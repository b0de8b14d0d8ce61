import type { FastifyInstance } from 'fastify';
import { HttpError } from '../platform/http/http-error.ts';

/*
 * GET /api/whoami (read): the presented API key's id, name and scopes, so that a client (the
 * console) can tell a read-only key from an admin one before it offers changes. The API refuses
 * what the key may not do whatever a client shows.
 */

const problem = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;

export function registerWhoAmIRoute(app: FastifyInstance): void {
  app.get(
    '/api/whoami',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The API key of this request',
        description: 'Its id, name and scopes (`read`, `events:write`, `admin`; `admin` covers the others).',
        tags: ['keys'],
        response: {
          200: {
            type: 'object',
            properties: { id: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string', enum: ['events:write', 'read', 'admin'] } } },
            required: ['id', 'name', 'scopes'],
          },
          401: problem,
          403: problem,
        },
      },
    },
    (request) => {
      const key = request.apiKey;
      if (!key) throw new HttpError(401, 'unauthorized', 'no API key');
      return { id: key.id, name: key.name, scopes: key.scopes };
    },
  );
}
