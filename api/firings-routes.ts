import type { FastifyInstance } from 'fastify';
import type { Database } from '../platform/ports/database.ts';
import type { Firing } from '../schemas/api-resources.ts';
import { allFiringsQuery, firingsPageSchema, problemSchema, toJsonSchema, type firingsQuery } from './automations/automation-schemas.ts';
import { firingsPage } from './automations/firings-page.ts';
import { parseQuery } from './automations/http-input.ts';
import { HttpError } from '../platform/http/http-error.ts';
import { decodePageCursor } from '../schemas/page-cursor.ts';
import { isUuid } from '../schemas/uuid.ts';
import type { z } from 'zod';

/*
 * GET /api/firings (read scope; docs/reference/firings-api.md): the firings of every automation,
 * newest first, filtered by automation, status and a range of triggered_at, in keyset pages.
 * GET /api/automations/{name}/firings answers with the same code for one automation.
 */

function queryProblem(path: string, message: string): HttpError {
  return new HttpError(400, 'invalid_query', `query parameter ${path}: ${message}`, { details: { errors: [{ path, message }] } });
}

/** The page of firings a validated query asks for (`automation`: one automation's); 400 for a foreign cursor or an empty range. */
export function firingsRequest(automation: string | undefined, query: z.infer<typeof firingsQuery>): (db: Database) => Promise<{ firings: Firing[]; next?: string }> {
  const after = query.cursor === undefined ? undefined : decodePageCursor(query.cursor, isUuid);
  if (query.cursor !== undefined && !after) throw queryProblem('cursor', 'not a cursor returned by this API');
  if (query.since && query.until && query.since >= query.until) throw queryProblem('until', 'must be later than since');
  return (db) => firingsPage(db, { automation, status: query.status, since: query.since, until: query.until }, query.limit, after);
}

export function registerFiringRoutes(app: FastifyInstance, db: Database): void {
  const problem = toJsonSchema(problemSchema, 'output');
  app.get(
    '/api/firings',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Firings of every automation, newest first',
        description:
          'Filters (all optional, AND-ed): `automation` (name; an automation without firings gives an empty page), `status` (`triggered`: not resolved; `resolved`), ' +
          '`since`/`until` (triggered_at, ISO 8601 with a time zone; `until` exclusive). Pages of `limit` (default 100, at most 1000), newest first by triggered_at then id; ' +
          'pass `next` back as `cursor` with the same filters. Unknown query parameters are a 400.',
        tags: ['firings'],
        querystring: toJsonSchema(allFiringsQuery, 'input'),
        response: { 200: toJsonSchema(firingsPageSchema, 'output'), 400: problem, 401: problem, 403: problem },
      },
    },
    async (request) => {
      const query = parseQuery(allFiringsQuery, request);
      return firingsRequest(query.automation, query)(db);
    },
  );
}
