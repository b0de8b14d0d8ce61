import { Liquid } from 'liquidjs';
import { z } from 'zod';
import { duration } from './durations.ts';

/*
 * Actions: what an automation does when it fires (`actions`) or resolves (`actions_on_resolve`).
 * One strict schema per kind, joined on `kind`. Fields marked `"x-vigil-template"` in the JSON
 * Schema are Liquid templates rendered against the FiringContext (schemas/firing.ts): `"text"`
 * fields render to a string; `"json"` fields are JSON values whose strings are templates, and a
 * string that is exactly one `{{ … }}` expression keeps the JSON type of its value (decision
 * 0700). They are parsed here, so a broken template is rejected when the automation is saved,
 * not when it fires.
 */

// ---------------------------------------------------------------------------------------------
// Liquid: one sandboxed configuration, used both to validate (here) and to render (actions/templates.ts)

/** How a value shows in text: lists and plain objects as JSON, nothing for null and undefined. */
function textOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) return JSON.stringify(value);
  // Liquid's own values (drops) and anything else have no text form of their own here.
  return typeof value === 'object' && typeof value.valueOf === 'function' && value.valueOf() !== value ? textOf(value.valueOf()) : '';
}

/** A Liquid engine without file-system access: no include/render/layout, own properties only, unknown filters rejected. */
export function createTemplateEngine(): Liquid {
  const engine = new Liquid({
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    relativeReference: false,
    // An empty in-memory template map: nothing can be loaded from disk.
    templates: {},
    parseLimit: 100_000,
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
    cache: false,
    // In text, a list or an object shows as its JSON, not "[object Object]" or its items run together.
    outputEscape: textOf,
  });
  // The explicit way from JSON text to a value, e.g. a label holding "[1, 2]" (`json` is the way back).
  engine.registerFilter('parse_json', (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value));
  for (const tag of ['include', 'render', 'layout']) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(`the "${tag}" tag is not available in Vigil templates`);
      },
      *render() {
        /* never parsed */
      },
    });
  }
  return engine;
}

const validationEngine = createTemplateEngine();

/** Parses a Liquid template; returns the error message, or undefined when it is valid. */
function templateError(source: string): string | undefined {
  try {
    validationEngine.parse(source);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `invalid Liquid template: ${message.split('\n')[0]}`;
  }
}

const wholeExpressionPattern = /^\s*\{\{-?([\s\S]*?)-?\}\}\s*$/;

/**
 * The expression of a string that is exactly one `{{ … }}` output (whitespace around it allowed),
 * e.g. `event.payload.n | plus: 1` for `"{{ event.payload.n | plus: 1 }}"`; undefined otherwise.
 * In templated JSON fields such a string keeps the JSON type of its value.
 */
export function wholeExpressionOf(source: string): string | undefined {
  const match = wholeExpressionPattern.exec(source);
  if (!match) return undefined;
  const inner = match[1]!;
  if (inner.includes('{{') || inner.includes('}}') || inner.includes('{%') || inner.includes('%}')) return undefined;
  return inner.trim() || undefined;
}

/** A string that is a valid Liquid template, rendered as text. */
const template = z
  .string()
  .superRefine((value, ctx) => {
    const error = templateError(value);
    if (error) ctx.addIssue({ code: 'custom', message: error });
  })
  .meta({ 'x-vigil-template': 'text' });

/** Every string inside a JSON value must be a valid template (strings are rendered one by one). */
function validateTemplatesIn(value: unknown, ctx: z.RefinementCtx, path: (string | number)[] = []): void {
  if (typeof value === 'string') {
    const error = templateError(value);
    if (error) ctx.addIssue({ code: 'custom', path, message: error });
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => validateTemplatesIn(item, ctx, [...path, index]));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) validateTemplatesIn(item, ctx, [...path, key]);
  }
}

/** Any JSON value whose strings are templates; one-expression strings keep their value's type. */
const templatedJson = z
  .json()
  .superRefine((value, ctx) => validateTemplatesIn(value, ctx))
  .meta({ 'x-vigil-template': 'json' });
const templatedObject = z
  .record(z.string(), z.json())
  .superRefine((value, ctx) => validateTemplatesIn(value, ctx))
  .meta({ 'x-vigil-template': 'json' });

// ---------------------------------------------------------------------------------------------
// Durations and the retry policy

export const retryPolicy = z
  .object({
    /** Total attempts, including the first. */
    attempts: z.int().min(1).max(50).default(5),
    /** Delay before the second attempt; doubles each time (with jitter). */
    backoff: duration.default('5s'),
    /** Longest single backoff delay. */
    max_backoff: duration.default('10m'),
    /** Give up (dead-letter) when the next attempt would start later than this after the firing. */
    max_age: duration.default('1h'),
    /** Random spread of each delay, 0…1. */
    jitter: z.number().min(0).max(1).default(0.2),
  })
  .strict();

const common = {
  /** Optional label shown in action runs and logs. */
  name: z.string().min(1).max(200).optional(),
  retry: retryPolicy.prefault({}),
  /** Timeout of one attempt's outgoing call. */
  timeout: duration.default('10s'),
};

const connectionName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a connection name: letters, digits, "_", "." or "-"');

// ---------------------------------------------------------------------------------------------
// Kinds

export const sendNotification = z
  .object({
    kind: z.literal('send-notification'),
    ...common,
    /** A `slack` connection: an incoming-webhook URL or a bot token. */
    connection: connectionName,
    /** Channel id or name (bot token only; an incoming webhook posts to its own channel). Template. */
    channel: template.optional(),
    /** Plain-text message, also the fallback of `blocks`. Template. */
    text: template.min(1),
    /** Block Kit blocks; every string inside is a template. */
    blocks: z
      .array(z.record(z.string(), z.json()))
      .max(50)
      .superRefine((value, ctx) => validateTemplatesIn(value, ctx))
      .meta({ 'x-vigil-template': 'json' })
      .optional(),
    /**
     * In `actions_on_resolve`: reply in the thread of the message this action's automation posted
     * for the same firing on the same channel (bot token). Default true.
     */
    thread: z.boolean().default(true),
    /** Also show a thread reply in the channel. */
    reply_broadcast: z.boolean().default(false),
  })
  .strict();

const httpMethod = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

export const callWebhook = z
  .object({
    kind: z.literal('call-webhook'),
    ...common,
    /** Absolute http(s) URL. Template. */
    url: template.min(1),
    method: httpMethod.default('POST'),
    /** Header values are templates. Secret headers belong in the connection. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name'), template).default({}),
    /**
     * The request body: a string (a text template, sent as is) or any JSON value whose strings are
     * templates (sent as JSON; a string that is one `{{ … }}` expression keeps its value's type).
     * Default: the firing context as JSON.
     */
    body: templatedJson.optional(),
    /** Content-Type when `body` is a string (default text/plain; JSON bodies are application/json). */
    content_type: z.string().min(1).max(200).optional(),
    /** A `webhook` connection: signing secret for the HMAC signature and secret headers. */
    connection: connectionName.optional(),
    /** Name of the signature header (when the connection has a signing secret). */
    signature_header: z.string().min(1).max(100).default('X-Vigil-Signature'),
  })
  .strict();

/** Orchestrator actions name an `prefect` or `airflow` connection. */
const orchestrator = { ...common, connection: connectionName };

export const runDeployment = z
  .object({
    kind: z.literal('run-deployment'),
    ...orchestrator,
    /** Prefect: deployment id (UUID) or "flow-name/deployment-name". Airflow: DAG id. Template. */
    deployment: template.min(1),
    /**
     * Prefect flow-run parameters / Airflow DAG-run conf. Strings are templates; one that is
     * exactly one `{{ … }}` expression keeps its value's JSON type (`"{{ event.payload.n }}"` → 7).
     */
    parameters: templatedObject.default({}),
    /** Prefect flow-run name / Airflow DAG-run note. Template. */
    run_name: template.optional(),
    /** Prefect flow-run tags; each a template (tags that render empty are left out). */
    tags: z.array(template.min(1).max(200)).max(20).optional(),
  })
  .strict();

const workQueueFields = {
  ...orchestrator,
  /** Prefect: "work-pool-name/queue-name" or a work queue id (UUID). Airflow: pool name (pausing sets its slots to 0). Template. */
  work_queue: template.min(1),
};

export const pauseWorkQueue = z.object({ kind: z.literal('pause-work-queue'), ...workQueueFields }).strict();
export const resumeWorkQueue = z
  .object({
    kind: z.literal('resume-work-queue'),
    ...workQueueFields,
    /** Airflow only: the pool's slot count to restore. */
    slots: z.int().min(0).max(1_000_000).optional(),
  })
  .strict();

const scheduleFields = {
  ...orchestrator,
  /** Prefect: deployment id (UUID) or "flow-name/deployment-name". Airflow: DAG id. Template. */
  deployment: template.min(1),
  /**
   * Prefect only: one schedule of the deployment, by its id (UUID) or slug; toggles that
   * schedule's `active` flag. Without it the whole deployment is paused / resumed. Template.
   */
  schedule: template.min(1).optional(),
};

export const pauseSchedule = z.object({ kind: z.literal('pause-schedule'), ...scheduleFields }).strict();
export const resumeSchedule = z.object({ kind: z.literal('resume-schedule'), ...scheduleFields }).strict();

const automationFields = {
  ...common,
  /** Name of the automation; default: the automation that fired. Template. */
  automation: template.min(1).optional(),
};

export const pauseAutomation = z.object({ kind: z.literal('pause-automation'), ...automationFields }).strict();
export const resumeAutomation = z.object({ kind: z.literal('resume-automation'), ...automationFields }).strict();

export const emitEvent = z
  .object({
    kind: z.literal('emit-event'),
    ...common,
    /** Event name of the derived event, e.g. `sla.missed`. Template. */
    event: template.min(1),
    /** Resource labels (templates); `id` is required. */
    resource: z.object({ id: template.min(1) }).catchall(template),
    related: z.array(z.object({ id: template.min(1), role: template.min(1) }).catchall(template)).max(20).optional(),
    /** Payload; strings are templates, one `{{ … }}` expression keeps its value's JSON type. */
    payload: templatedObject.default({}),
  })
  .strict();

export const action = z.discriminatedUnion('kind', [
  sendNotification,
  callWebhook,
  runDeployment,
  pauseWorkQueue,
  resumeWorkQueue,
  pauseSchedule,
  resumeSchedule,
  pauseAutomation,
  resumeAutomation,
  emitEvent,
]);

/** An action as validated (defaults filled in). */
export type Action = z.infer<typeof action>;
/** An action as written by a user. */
export type ActionInput = z.input<typeof action>;
export type ActionKind = Action['kind'];
export type ActionOf<K extends ActionKind> = Extract<Action, { kind: K }>;

/**
 * Checks every template of an action; returns `path: message` lines (empty when all parse).
 * Equivalent to the schema's own checks, for callers holding an already-typed action.
 */
export function validateTemplates(value: unknown): string[] {
  const result = action.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.') || '(action)'}: ${issue.message}`);
}
