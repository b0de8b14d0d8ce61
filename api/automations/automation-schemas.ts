import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { automation } from '../../schemas/automation.ts';
import { incomingEvent } from '../../schemas/event.ts';
import { eventLimits } from '../../schemas/limits.ts';

/*
 * The automations API's request and response shapes. Requests are validated with these zod
 * schemas in the handlers; their JSON Schemas (z.toJSONSchema, OpenAPI 3.0) only document the
 * routes in /openapi.json.
 */

const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone, e.g. 2026-11-22T08:59:00Z' }).transform((value) => new Date(value));

/** Tests of at most this many stored events per dry run. */
export const maxReplayedEvents = 100_000;

// ---------------------------------------------------------------------------------------------
// Requests

export const listQuery = z
  .object({
    tag: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional().describe('Only automations with this tag'),
    enabled: z
      .enum(['true', 'false'], { message: 'must be true or false' })
      .transform((value) => value === 'true')
      .optional()
      .describe('Only enabled (true) or paused (false) automations'),
  })
  .strict();

/** PATCH: the fields that can change without resending the document. */
export const patchBody = z
  .object({
    enabled: z.boolean().optional().describe('Pause (false) or resume (true)'),
    description: z.string().max(4_000, 'must be at most 4000 characters').optional(),
    tags: z.array(z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters')).max(50, 'at most 50 tags').optional().describe('Replaces the tags'),
  })
  .strict();

export type AutomationPatch = z.infer<typeof patchBody>;

/** POST …/test: an event list, or a time range of the stored history; optionally an unsaved definition. */
export const testBody = z
  .object({
    events: z
      .array(z.unknown())
      .min(1, 'must hold at least one event')
      .max(eventLimits.maxEventsPerRequest, `at most ${eventLimits.maxEventsPerRequest} events; test a longer stretch with since/until against the stored history`)
      .optional(),
    since: timestamp.optional(),
    until: timestamp.optional(),
    automation: z.record(z.string(), z.unknown(), { message: 'must be an automation (a JSON object)' }).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.events !== undefined) {
      if (value.since !== undefined || value.until !== undefined) {
        ctx.addIssue({ code: 'custom', path: [value.since !== undefined ? 'since' : 'until'], message: 'give either events, or since and until (the stored history), not both' });
      }
      return;
    }
    if (value.since === undefined && value.until === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give events (a list of events), or since and until (a time range of the stored history)' });
      return;
    }
    if (value.since === undefined) ctx.addIssue({ code: 'custom', path: ['since'], message: 'is required with until' });
    if (value.until === undefined) ctx.addIssue({ code: 'custom', path: ['until'], message: 'is required with since' });
    if (value.since && value.until && value.since >= value.until) ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be later than since' });
  });

export type TestBody = z.infer<typeof testBody>;

/** POST /api/automations/{name}/explain: one event (native form) against the stored or a given definition. */
export const explainBody = z
  .object({
    event: z.record(z.string(), z.unknown(), { message: 'must be an event (a JSON object)' }),
    automation: z.record(z.string(), z.unknown(), { message: 'must be an automation (a JSON object)' }).optional(),
  })
  .strict();

/** POST /api/automations/match: one event against every stored automation. */
export const matchBody = z.object({ event: z.record(z.string(), z.unknown(), { message: 'must be an event (a JSON object)' }) }).strict();

export const matchResultSchema = z.object({
  event: z.string().describe('The event id (assigned when the event had none)'),
  checked: z.int().describe('Automations the event was explained against'),
  matched: z
    .array(z.object({ name: z.string(), enabled: z.boolean(), clauses: z.array(z.object({ clause: z.string(), matched: z.boolean(), detail: z.string() })) }))
    .describe('The automations whose trigger the event matches, by name, with the clauses that matched'),
});

export const explainResultSchema = z.object({
  automation: z.string(),
  event: z.string().describe('The event id (assigned when the event had none)'),
  matched: z.boolean().describe('Whether the event reaches the trigger’s windows; whether it then fires depends on the window state'),
  clauses: z.array(z.object({ clause: z.string().describe('The path of the clause, e.g. trigger.match.id'), matched: z.boolean(), detail: z.string() })),
});

export const firingStatuses = ['triggered', 'resolved'] as const;

export const firingsQuery = z
  .object({
    status: z.enum(firingStatuses, { message: 'must be triggered or resolved' }).optional().describe('`triggered` (not resolved) or `resolved`'),
    since: timestamp.optional().describe('triggered_at ≥ since'),
    until: timestamp.optional().describe('triggered_at < until'),
    limit: z.coerce.number({ message: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(1_000, 'must be at most 1000').default(100),
    cursor: z.string().regex(/^[A-Za-z0-9_-]+$/, 'not a cursor returned by this API').optional().describe('`next` of the previous page'),
  })
  .strict();

/** GET /api/firings: the firings of every automation, or of one. */
export const allFiringsQuery = firingsQuery
  .extend({ automation: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional().describe('Only the firings of this automation') })
  .strict();

// ---------------------------------------------------------------------------------------------
// Responses (documentation only)

const isoTime = z.iso.datetime();
const pathProblem = z.object({ path: z.string().describe('Where in the request, e.g. `trigger.within`, `actions[0].text`, `events[2].resource.id`'), message: z.string() });

export const problemSchema = z.object({
  error: z.string().describe('A stable code, e.g. `not_found`, `invalid_automation`'),
  message: z.string(),
  errors: z.array(pathProblem).optional(),
});

const firingWindow = z.object({ start: isoTime, end: isoTime });

const storedFiringSchema = z.object({
  id: z.uuid(),
  automation_name: z.string().describe('The automation that fired (firings outlive a deleted automation)'),
  status: z.enum(firingStatuses),
  triggered_at: isoTime,
  resolved_at: isoTime.nullable(),
  for_each: z.record(z.string(), z.string()).describe('The trigger’s for_each values of this firing'),
  window: firingWindow,
  count: z.int().describe('Matching events in the window when it fired'),
  deadline: isoTime.nullable().describe('Proactive and deadline triggers: when the expected events were due'),
  event_ids: z.array(z.string()).describe('The events that made it fire (the most recent ones, at most 20)'),
});

export const firingsPageSchema = z.object({ firings: z.array(storedFiringSchema), next: z.string().optional().describe('Pass back as `cursor` for the next page') });

const testFiring = z.object({
  state: z.enum(firingStatuses).describe('`resolved` when an expected event arrived later within the run'),
  at: isoTime.describe('When it would have fired (virtual clock)'),
  triggered_at: isoTime,
  resolved_at: isoTime.optional(),
  resolved_by: z.string().optional().describe('Id of the event that resolved it'),
  deadline: isoTime.optional(),
  for_each: z.record(z.string(), z.string()),
  window: firingWindow,
  count: z.int(),
  event_ids: z.array(z.string()),
});

const testResultSchema = z.object({
  fired: z.int().describe('How many times it would have fired'),
  resolved: z.int().describe('How many of those firings a late expected event resolved'),
  firings: z.array(testFiring).describe('In the order they fired (at most 1,000 listed)'),
  explanations: z
    .array(z.object({ event_id: z.string(), event: z.string().describe('The same id'), matched: z.boolean(), clauses: z.array(z.object({ clause: z.string(), matched: z.boolean(), detail: z.string() })) }))
    .describe('Clause by clause, for the first 1,000 events replayed'),
  events: z.int().describe('Events replayed'),
  matched: z.int().describe('Events that matched every clause of the trigger'),
  duplicates: z.int().describe('Events whose id was already counted'),
  late: z.int(),
  clock: z.object({ start: isoTime, end: isoTime }).describe('The range of the virtual clock'),
  firings_not_listed: z.int().optional(),
  explanations_not_listed: z.int().optional(),
});

/** The test body as documented (the handler validates events and the automation itself, for path-level errors). */
const testBodyDocument = z
  .object({
    events: z.array(incomingEvent).optional().describe(`Native events (at most ${eventLimits.maxEventsPerRequest}); id and occurred are filled in as the intake does`),
    since: z.iso.datetime({ offset: true }).optional().describe('With until: replay the stored history of [since, until), oldest first'),
    until: z.iso.datetime({ offset: true }).optional(),
    automation: automation.optional().describe('An unsaved definition to test instead of the stored one (`name` optional; if given, equal to the path)'),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// OpenAPI

type JsonSchema = Record<string, unknown>;

export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' });
}

/**
 * Registers a JSON Schema as a shared schema (`$id`), its `definitions` (zod's recursive JSON
 * values) as shared schemas of their own: @fastify/swagger turns them into components, which
 * nested `#/definitions/…` references would not reach. Returns a reference to it.
 */
function shared(app: FastifyInstance, id: string, schema: JsonSchema): { $ref: string } {
  const { definitions, $defs, ...rest } = schema as JsonSchema & { definitions?: Record<string, JsonSchema>; $defs?: Record<string, JsonSchema> };
  const defs = { ...(definitions ?? {}), ...($defs ?? {}) };
  const rewrite = (value: JsonSchema): JsonSchema =>
    JSON.parse(JSON.stringify(value).replace(/"#\/(?:definitions|\$defs)\/([^"]+)"/g, (_match, name: string) => JSON.stringify(`${id}.${name}#`))) as JsonSchema;
  for (const [name, definition] of Object.entries(defs)) app.addSchema({ $id: `${id}.${name}`, ...rewrite(definition) });
  app.addSchema({ $id: id, ...rewrite(rest) });
  return { $ref: `${id}#` };
}

export interface OpenApiSchemas {
  readonly automationInput: { $ref: string };
  readonly storedAutomation: { $ref: string };
  readonly problem: JsonSchema;
  readonly listQuery: JsonSchema;
  readonly patchBody: JsonSchema;
  readonly testBody: { $ref: string };
  readonly testResult: JsonSchema;
  readonly explainBody: JsonSchema;
  readonly explainResult: JsonSchema;
  readonly matchBody: JsonSchema;
  readonly matchResult: JsonSchema;
  readonly firingsQuery: JsonSchema;
  readonly firingsPage: JsonSchema;
  readonly nameParams: JsonSchema;
  readonly putResult: JsonSchema;
}

/** The routes' JSON Schemas; call once per app (they are registered as shared schemas). */
export function openApiSchemas(app: FastifyInstance): OpenApiSchemas {
  const output = toJsonSchema(automation, 'output') as JsonSchema & { properties: JsonSchema; required?: string[] };
  const stored = {
    ...output,
    description: 'An automation as stored: the document with defaults filled in, and its bookkeeping',
    properties: {
      ...output.properties,
      version: { type: 'integer', description: '1 when created; +1 on every change' },
      created_at: { type: 'string', format: 'date-time' },
      updated_at: { type: 'string', format: 'date-time' },
    },
    required: [...(output.required ?? []), 'version', 'created_at', 'updated_at'],
  };
  return {
    automationInput: shared(app, 'vigil.AutomationInput', toJsonSchema(automation, 'input')),
    storedAutomation: shared(app, 'vigil.StoredAutomation', stored),
    problem: toJsonSchema(problemSchema, 'output'),
    listQuery: toJsonSchema(listQuery, 'input'),
    // the handler refuses an empty patch (422): at least one field
    patchBody: { ...toJsonSchema(patchBody, 'input'), minProperties: 1 },
    testBody: shared(app, 'vigil.AutomationTestRequest', toJsonSchema(testBodyDocument, 'input')),
    testResult: toJsonSchema(testResultSchema, 'output'),
    explainBody: toJsonSchema(explainBody, 'input'),
    explainResult: toJsonSchema(explainResultSchema, 'output'),
    matchBody: toJsonSchema(matchBody, 'input'),
    matchResult: toJsonSchema(matchResultSchema, 'output'),
    firingsQuery: toJsonSchema(firingsQuery, 'input'),
    firingsPage: toJsonSchema(firingsPageSchema, 'output'),
    putResult: {
      type: 'object',
      properties: {
        automation: { $ref: 'vigil.StoredAutomation#' },
        created: { type: 'boolean' },
        changed: { type: 'boolean' },
        warnings: {
          type: 'array',
          description: 'What is saved but cannot work yet, by path (e.g. `actions[0].connection`: no such connection)',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } }, required: ['path', 'message'] },
        },
      },
      required: ['automation', 'created', 'changed', 'warnings'],
    },
    nameParams: {
      type: 'object',
      properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'The automation name' } },
      required: ['name'],
    },
  };
}
