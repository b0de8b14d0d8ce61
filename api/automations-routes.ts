import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ConnectionsRepository } from '../actions/connections.ts';
import type { Database } from '../platform/ports/database.ts';
import { automationNamePattern, validateAutomation } from '../schemas/automation.ts';
import { normalizeEvents } from '../ingest/event-normalizer.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { createAutomationRepository, explain, type AutomationRepository } from '../triggers/index.ts';
import { explainBody, firingsQuery, listQuery, matchBody, openApiSchemas, patchBody, testBody } from './automations/automation-schemas.ts';
import { automationResource, type AutomationResource } from './automations/automation-resource.ts';
import { connectionWarnings } from './automations/connection-warnings.ts';
import { hasFirings } from './automations/firings-page.ts';
import { automationToTest, defaultDryRunLimits, runDryRunRequest, type DryRunLimits } from './automations/dry-run-request.ts';
import { invalidAutomation, jsonBody, parseBody, parseQuery, unprocessable } from './automations/http-input.ts';
import { firingsRequest } from './firings-routes.ts';
import { HttpError } from '../platform/http/http-error.ts';

/*
 * The automations control plane (docs/reference/automations-api.md).
 *
 *   GET    /api/automations                  read   list (?tag=, ?enabled=)
 *   POST   /api/automations                  admin  create: 201; 409 already_exists
 *   POST   /api/automations/validate         read   200 { valid: true, automation } | 422 invalid_automation
 *   GET    /api/automations/{name}           read   the automation; 404
 *   PUT    /api/automations/{name}           admin  idempotent upsert: 201 created / 200; { automation, created, changed, warnings }
 *   PATCH  /api/automations/{name}           admin  { enabled?, description?, tags? }: 200 with the automation
 *   DELETE /api/automations/{name}           admin  204; 404
 *   POST   /api/automations/{name}/test      read   dry run against events or the stored history (nothing is written)
 *   POST   /api/automations/{name}/explain   read   why one event matches the trigger or not, clause by clause
 *   POST   /api/automations/match            read   which automations one event matches
 *   GET    /api/automations/{name}/firings   read   newest first; status, since, until; cursor pages
 *
 * Every write goes through the automation repository's validation; the table trigger announces
 * changes to the evaluators (NOTIFY vigil_automations); an unchanged document writes nothing.
 */

export interface AutomationRoutesOptions {
  readonly repository?: AutomationRepository;
  /** The connections, to warn on PUT about actions naming one that does not exist; without it, no warnings. */
  readonly connections?: Pick<ConnectionsRepository, 'kinds'>;
  readonly dryRunLimits?: DryRunLimits;
}

const exampleAutomation = '{"name": "sales-refresh-sla", "trigger": {"type": "deadline", "expect": ["dbt.model.refreshed"], "by": "0 9 * * 1-5"}}';

function nameOf(request: FastifyRequest): string {
  return (request.params as { name: string }).name;
}

function notFound(name: string): HttpError {
  return new HttpError(404, 'not_found', `no automation ${JSON.stringify(name.slice(0, 200))}`);
}

/** A name in the path that no automation can have is simply unknown. */
function knownName(name: string): boolean {
  return automationNamePattern.test(name);
}

/**
 * The body of a request about one automation that may also carry an unsaved definition (the dry
 * run, explain): parsed, and the name in the path known unless such a definition was sent.
 */
function requestAboutAutomation<T extends z.ZodType<{ automation?: unknown }>>(
  request: FastifyRequest,
  schema: T,
  example: string,
  code: string,
  what: string,
): { name: string; parsed: z.infer<T> } {
  const name = nameOf(request);
  const parsed = parseBody(schema, jsonBody(request, example), code, what);
  if (!knownName(name) && parsed.automation === undefined) throw notFound(name);
  return { name, parsed };
}

/** One event in native form, completed as the intake does; 422 `invalid_event` with its paths. */
function oneEvent(event: Record<string, unknown>): VigilEvent {
  const normalized = normalizeEvents([event], new Date());
  if (!normalized.ok) {
    throw unprocessable('invalid_event', 'the event is invalid', normalized.problems.map((p) => ({ path: `event${p.path ? (p.path.startsWith('[') ? p.path : `.${p.path}`) : ''}`, message: p.message })));
  }
  return normalized.events[0]!;
}

function objectBody(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw unprocessable('invalid_automation', 'the automation is invalid', [{ path: '', message: `${what} must be a JSON object` }]);
  }
  return value as Record<string, unknown>;
}

export function registerAutomationRoutes(app: FastifyInstance, db: Database, options: AutomationRoutesOptions = {}): void {
  const repository = options.repository ?? createAutomationRepository(db);
  const dryRunLimits = options.dryRunLimits ?? defaultDryRunLimits;
  const s = openApiSchemas(app);
  const tags = ['automations'];
  const problems = { 400: s.problem, 401: s.problem, 403: s.problem, 404: s.problem, 409: s.problem, 415: s.problem, 422: s.problem };
  const pick = (...codes: Array<keyof typeof problems>) => Object.fromEntries(codes.map((code) => [code, problems[code]]));

  const getResource = async (name: string): Promise<AutomationResource> => {
    const stored = knownName(name) ? await repository.get(name) : null;
    if (!stored) throw notFound(name);
    return automationResource(stored);
  };

  app.get(
    '/api/automations',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List automations',
        description: 'Every automation, by name. Filters: `tag` (has this tag), `enabled` (`true` or `false`).',
        tags,
        querystring: s.listQuery,
        response: { 200: { type: 'object', properties: { automations: { type: 'array', items: s.storedAutomation } }, required: ['automations'] }, ...pick(400, 401, 403) },
      },
    },
    async (request) => {
      const query = parseQuery(listQuery, request);
      const list = await repository.list({ ...(query.tag !== undefined ? { tag: query.tag } : {}), ...(query.enabled !== undefined ? { enabled: query.enabled } : {}) });
      return { automations: list.map(automationResource) };
    },
  );

  app.post(
    '/api/automations',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create an automation',
        description: '201 with the automation (defaults filled in); 409 `already_exists` when the name is taken (use PUT to create or replace); 422 `invalid_automation` lists every problem by path.',
        tags,
        body: s.automationInput,
        response: { 201: s.storedAutomation, ...pick(400, 401, 403, 409, 415, 422) },
      },
    },
    async (request, reply) => {
      const result = validateAutomation(objectBody(jsonBody(request, exampleAutomation), 'the body'));
      if (!result.ok) throw invalidAutomation(result.errors);
      const name = result.automation.name;
      if (!(await repository.create(result.automation))) {
        throw new HttpError(409, 'already_exists', `an automation named ${JSON.stringify(name)} exists; PUT /api/automations/${name} replaces it`);
      }
      return reply
        .code(201)
        .header('location', `/api/automations/${encodeURIComponent(name)}`)
        .send(await getResource(name));
    },
  );

  app.post(
    '/api/automations/validate',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Validate an automation without saving it',
        description: '200 `{ valid: true, automation }` with the normalized automation (defaults filled in), or 422 `invalid_automation` with every problem by path.',
        tags,
        body: s.automationInput,
        response: {
          200: { type: 'object', properties: { valid: { type: 'boolean', enum: [true] }, automation: s.automationInput }, required: ['valid', 'automation'] },
          ...pick(400, 401, 403, 415, 422),
        },
      },
    },
    (request, reply) => {
      const result = validateAutomation(objectBody(jsonBody(request, exampleAutomation), 'the body'));
      if (!result.ok) throw invalidAutomation(result.errors);
      return reply.send({ valid: true, automation: result.automation });
    },
  );

  app.get(
    '/api/automations/:name',
    { config: { scope: 'read' }, schema: { summary: 'Read an automation', tags, params: s.nameParams, response: { 200: s.storedAutomation, ...pick(401, 403, 404) } } },
    async (request) => getResource(nameOf(request)),
  );

  app.put(
    '/api/automations/:name',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Create or replace an automation (idempotent upsert)',
        description:
          'The body is the automation; `name` may be left out, and must equal the path when given. 201 when created, 200 otherwise, with `{ automation, created, changed, warnings }`: ' +
          '`changed` is false when the stored definition is identical (then nothing is written: no version bump, no reload). A changed trigger resets its window state. ' +
          '`warnings` lists, by path, what is saved but cannot work yet: an action naming a connection that does not exist, or one of a kind the action cannot use.',
        tags,
        params: s.nameParams,
        body: s.automationInput,
        response: {
          200: s.putResult,
          201: s.putResult,
          ...pick(400, 401, 403, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const name = nameOf(request);
      const document = objectBody(jsonBody(request, exampleAutomation), 'the body');
      if (document['name'] !== undefined && document['name'] !== name) {
        throw unprocessable('invalid_automation', 'the automation is invalid', [{ path: 'name', message: `must equal the name in the path (${JSON.stringify(name)}) or be left out` }]);
      }
      const result = await repository.upsert({ ...document, name });
      if (!result.ok) throw invalidAutomation(result.errors);
      const warnings = options.connections ? await connectionWarnings(result.automation.automation, options.connections) : [];
      return reply.code(result.created ? 201 : 200).send({ automation: automationResource(result.automation), created: result.created, changed: result.changed, warnings });
    },
  );

  app.patch(
    '/api/automations/:name',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Pause, resume, or change the description or tags of an automation',
        description: 'A partial update: `{ enabled?, description?, tags? }` (other fields are a 422; to change the trigger or the actions, PUT the automation). 200 with the automation.',
        tags,
        params: s.nameParams,
        body: s.patchBody,
        response: { 200: s.storedAutomation, ...pick(400, 401, 403, 404, 415, 422) },
      },
    },
    async (request) => {
      const name = nameOf(request);
      const body = jsonBody(request, '{"enabled": false}');
      if (!knownName(name)) throw notFound(name);
      const patch = parseBody(patchBody, body, 'invalid_patch', 'the patch is invalid');
      if (patch.enabled === undefined && patch.description === undefined && patch.tags === undefined) {
        throw unprocessable('invalid_patch', 'the patch is invalid', [{ path: '', message: 'must set at least one of enabled, description, tags' }]);
      }
      if (!(await repository.patch(name, patch))) throw notFound(name);
      return getResource(name);
    },
  );

  app.delete(
    '/api/automations/:name',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Delete an automation',
        description: 'Deletes it and its window state; its firings stay as history. 204; 404 when unknown.',
        tags,
        params: s.nameParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...pick(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const name = nameOf(request);
      if (!knownName(name) || !(await repository.delete(name))) throw notFound(name);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/automations/:name/test',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Dry run: what the automation would have done',
        description:
          'Evaluates the automation with the evaluator’s own code against `events` (native events, validated and completed as the intake does) or against the stored history ' +
          '`since`…`until` (oldest first; at most 100,000 events), on a virtual clock: each event arrives at its `occurred` time; expectations and deadlines fall due on the clock, ' +
          'which runs on to `until` (history) or to the last event plus the trigger’s window (events). Nothing is written and no action runs. ' +
          'Send `automation` to test an unsaved definition (the name in the path may then be new).',
        tags,
        params: s.nameParams,
        body: s.testBody,
        response: { 200: s.testResult, ...pick(400, 401, 403, 404, 415, 422) },
      },
    },
    async (request) => {
      const { name, parsed } = requestAboutAutomation(
        request,
        testBody,
        '{"events": [{"event": "airflow.dag_run.failed", "resource": {"id": "airflow.dag.sales"}}]}',
        'invalid_test_request',
        'the test request is invalid',
      );
      return runDryRunRequest(name, parsed, { db, repository, limits: dryRunLimits });
    },
  );

  app.post(
    '/api/automations/:name/explain',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Explain: why an event matches the trigger or not, clause by clause',
        description:
          'Evaluates every clause of the trigger (event name globs, `match`, `match_related`, `where`, `for_each`, loop protection) against `event` (native form, completed as the intake does) ' +
          'and reports each with the reason. `matched` says whether the event reaches the trigger’s windows; whether it then fires depends on the window state. ' +
          'Send `automation` to explain an unsaved definition. Nothing is written.',
        tags,
        params: s.nameParams,
        body: s.explainBody,
        response: { 200: s.explainResult, ...pick(400, 401, 403, 404, 415, 422) },
      },
    },
    async (request) => {
      const { name, parsed } = requestAboutAutomation(
        request,
        explainBody,
        '{"event": {"event": "dbt.model.refreshed", "resource": {"id": "dbt.model.sales"}}}',
        'invalid_explain_request',
        'the explain request is invalid',
      );
      const automation = await automationToTest(name, parsed, repository);
      return explain(automation, oneEvent(parsed.event));
    },
  );

  app.post(
    '/api/automations/match',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Which automations an event matches',
        description:
          'Explains `event` (native form) against every stored automation, enabled or not, and lists those whose trigger it matches, with the clauses. ' +
          'Whether a match then fires depends on each window’s state. Nothing is written.',
        tags,
        body: s.matchBody,
        response: { 200: s.matchResult, ...pick(400, 401, 403, 415, 422) },
      },
    },
    async (request) => {
      const body = jsonBody(request, '{"event": {"event": "dbt.model.refreshed", "resource": {"id": "dbt.model.sales"}}}');
      const parsed = parseBody(matchBody, body, 'invalid_match_request', 'the match request is invalid');
      const event = oneEvent(parsed.event);
      const stored = await repository.list();
      const matched = stored.flatMap((entry) => {
        const explanation = explain(entry.automation, event);
        return explanation.matched ? [{ name: entry.automation.name, enabled: entry.enabled, clauses: explanation.clauses }] : [];
      });
      return { event: event.id, checked: stored.length, matched };
    },
  );

  app.get(
    '/api/automations/:name/firings',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Firings of an automation, newest first',
        description:
          'Filters: `status` (`triggered`: not resolved; `resolved`), `since`/`until` (triggered_at, ISO 8601 with a time zone). Pages of `limit` (default 100, at most 1000); ' +
          'pass `next` back as `cursor` with the same filters. Firings outlive a deleted automation; 404 only when neither the automation nor any firing of that name exists.',
        tags,
        params: s.nameParams,
        querystring: s.firingsQuery,
        response: { 200: s.firingsPage, ...pick(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const name = nameOf(request);
      const page = firingsRequest(name, parseQuery(firingsQuery, request));
      if (!knownName(name)) throw notFound(name);
      if (!(await repository.get(name)) && !(await hasFirings(db, name))) throw notFound(name);
      return page(db);
    },
  );
}
