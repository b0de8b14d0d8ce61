import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  actionRunStatuses,
  type ActionRun,
  type ActionRunsRepository,
  type ActionRunStatus,
} from '../actions/action-runs.ts';
import { HttpError } from '../platform/http/http-error.ts';
import { decodePageCursor } from '../schemas/page-cursor.ts';
import { isUuid } from '../schemas/uuid.ts';

/*
 * The action runs control plane: the record of every (firing, action) run, with the failed ones
 * forming the dead-letter list, and retrying a dead letter.
 *
 *   GET  /api/action-runs               newest first; filters status, automation, firing, since, until;
 *                                       pages of `limit` (default 100, at most 1000), `next` → `cursor`
 *   GET  /api/action-runs/{id}
 *   POST /api/action-runs/{id}/retry    202; 404 unknown; 409 not failed (or its job expired)
 */

const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' }).transform((value) => new Date(value));

const listQuery = z
  .object({
    status: z.enum(actionRunStatuses as [ActionRunStatus, ...ActionRunStatus[]], { message: `must be one of ${actionRunStatuses.join(', ')}` }).optional(),
    automation: z.string().min(1, 'must not be empty').max(256).optional(),
    firing: z.string().refine(isUuid, 'must be a firing id (a UUID)').optional(),
    since: timestamp.optional(),
    until: timestamp.optional(),
    limit: z.coerce.number({ message: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1_000, 'must be at most 1000').default(100),
    cursor: z.string().optional(),
  })
  .strict();

function parseQuery(request: FastifyRequest): z.infer<typeof listQuery> {
  const query = request.query as Record<string, unknown>;
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw new HttpError(400, 'invalid_query', `query parameter ${key}: must be given once`);
  }
  const parsed = listQuery.safeParse(query);
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ path: key, message: `unknown query parameter; known: ${Object.keys(listQuery.shape).join(', ')}` }))
        : [{ path: issue.path.join('.'), message: issue.message }],
    );
    const first = errors[0]!;
    throw new HttpError(400, 'invalid_query', `query parameter ${first.path || '(unknown)'}: ${first.message}`, { details: { errors } });
  }
  if (parsed.data.since && parsed.data.until && parsed.data.since >= parsed.data.until) {
    throw new HttpError(400, 'invalid_query', 'query parameter until: must be later than since', {
      details: { errors: [{ path: 'until', message: 'must be later than since' }] },
    });
  }
  return parsed.data;
}

function runId(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function notFound(id: string): HttpError {
  return new HttpError(404, 'not_found', `no action run ${JSON.stringify(id.slice(0, 100))}`);
}

const problem = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;
const runSchema = {
  type: 'object',
  description: 'One (firing, action) run: `queued → running → (retrying → running)* → succeeded | failed`',
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Also the idempotency key of the outgoing calls' },
    firing_id: { type: 'string', format: 'uuid' },
    automation_name: { type: 'string' },
    phase: { type: 'string', enum: ['triggered', 'resolved'] },
    action_index: { type: 'integer' },
    kind: { type: 'string' },
    status: { type: 'string', enum: [...actionRunStatuses] },
    attempts: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    first_started_at: { type: 'string', format: 'date-time', nullable: true },
    last_started_at: { type: 'string', format: 'date-time', nullable: true },
    finished_at: { type: 'string', format: 'date-time', nullable: true },
    next_attempt_at: { type: 'string', format: 'date-time', nullable: true },
    duration_ms: { type: 'integer', nullable: true, description: 'Of the last attempt' },
    response_status: { type: 'integer', nullable: true },
    response_body: { type: 'string', nullable: true, description: 'First 2,000 characters' },
    error: { type: 'string', nullable: true, description: 'Why the last attempt failed (for failed runs: why it was dead-lettered)' },
    result: { description: 'Per kind: Slack channel and ts, Prefect flow run id, …', nullable: true },
  },
} as const;
const idParams = { type: 'object', properties: { id: { type: 'string', format: 'uuid', description: 'The action run id' } }, required: ['id'] } as const;

/** The action runs routes: read scope to list and read, admin scope to retry. */
export function registerActionRunRoutes(app: FastifyInstance, actionRuns: ActionRunsRepository): void {
  app.get(
    '/api/action-runs',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List action runs, newest first',
        description:
          'Filters (all optional, AND-ed): status (`queued`, `running`, `retrying`, `succeeded`, `failed` — the failed runs are the dead-letter list), ' +
          'automation (name), firing (firing id), since/until (creation time, ISO 8601 with a time zone). ' +
          'Pages of `limit` (default 100, at most 1000); pass `next` back as `cursor` (with the same filters).',
        tags: ['actions'],
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...actionRunStatuses] },
            automation: { type: 'string' },
            firing: { type: 'string', format: 'uuid' },
            since: { type: 'string', format: 'date-time' },
            until: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
          },
        },
        response: {
          200: { type: 'object', properties: { action_runs: { type: 'array', items: runSchema }, next: { type: 'string' } }, required: ['action_runs'] },
          400: problem,
          401: problem,
          403: problem,
        },
      },
    },
    async (request) => {
      const query = parseQuery(request);
      const after = query.cursor === undefined ? undefined : decodePageCursor(query.cursor, isUuid);
      if (query.cursor !== undefined && !after) {
        throw new HttpError(400, 'invalid_query', 'query parameter cursor: not a cursor returned by this API', {
          details: { errors: [{ path: 'cursor', message: 'not a cursor returned by this API' }] },
        });
      }
      const page = await actionRuns.page({
        ...(query.status ? { status: query.status } : {}),
        ...(query.automation ? { automation: query.automation } : {}),
        ...(query.firing ? { firingId: query.firing } : {}),
        ...(query.since ? { since: query.since } : {}),
        ...(query.until ? { until: query.until } : {}),
        ...(after ? { after } : {}),
        limit: query.limit,
      });
      return { action_runs: page.runs, ...(page.next ? { next: page.next } : {}) };
    },
  );

  app.get(
    '/api/action-runs/:id',
    {
      config: { scope: 'read' },
      schema: { summary: 'Read one action run', tags: ['actions'], params: idParams, response: { 200: runSchema, 401: problem, 403: problem, 404: problem } },
    },
    async (request): Promise<ActionRun> => {
      const id = runId(request);
      const run = await actionRuns.get(id);
      if (!run) throw notFound(id);
      return run;
    },
  );

  app.post(
    '/api/action-runs/:id/retry',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Retry a failed (dead-lettered) action run',
        description:
          'Sends the run back to the action queue with a fresh attempt budget and max age; it keeps its id, so outgoing calls repeat its idempotency key. ' +
          '202 with the run (now `queued`); 404 for an unknown run; 409 when the run is not failed (`not_failed`), when its job has expired from both the queue and the outbox (`retry_expired`), ' +
          'or when the queue still holds its job outside the dead letters (`retry_conflict`); 503 when the queue cannot be reached.',
        tags: ['actions'],
        params: idParams,
        response: { 202: runSchema, 401: problem, 403: problem, 404: problem, 409: problem, 503: problem },
      },
    },
    async (request, reply) => {
      const id = runId(request);
      let outcome;
      try {
        outcome = await actionRuns.retry(id);
      } catch (error) {
        request.log.warn({ err: error, runId: id }, 'action run retry failed');
        throw new HttpError(503, 'queue_unavailable', 'the run could not be sent back to the action queue (the queue or the database is unreachable); it stays failed; try again later', {
          headers: { 'retry-after': '5' },
        });
      }
      switch (outcome) {
        case 'not-found':
          throw notFound(id);
        case 'not-failed': {
          const run = await actionRuns.get(id);
          throw new HttpError(409, 'not_failed', `action run ${id} is ${run?.status ?? 'not failed'}; only failed (dead-lettered) runs can be retried`, {
            details: { status: run?.status ?? null },
          });
        }
        case 'busy':
          throw new HttpError(409, 'retry_conflict', `action run ${id} still has a job in the action queue that is not dead-lettered; try again shortly`);
        case 'expired':
          throw new HttpError(409, 'retry_expired', `action run ${id} can no longer be retried: its job has expired from the action queue and the outbox`);
        case 'retried': {
          const run = await actionRuns.get(id);
          return reply.code(202).send(run);
        }
      }
    },
  );
}
