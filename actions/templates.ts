import type { Template } from 'liquidjs';
import { createTemplateEngine, wholeExpressionOf } from '../schemas/action.ts';
import type { FiringContext } from '../schemas/firing.ts';
import { PermanentActionError } from '../platform/ports/action-queue.ts';

/*
 * Rendering action templates (Liquid, sandboxed; see createTemplateEngine in schemas/action.ts)
 * against a firing. Templates were validated when the automation was saved; one that still
 * fails to render fails the action permanently (retrying renders the same thing).
 *
 * Text fields (`render`) always give a string. Templated JSON fields (`renderJson`: run-deployment
 * parameters / Airflow conf, webhook JSON bodies, emit-event payloads, Slack blocks) are typed: a
 * string that is exactly one `{{ … }}` expression keeps the JSON type of its value (number,
 * boolean, list, object, null); any other string renders as text. Decision 0700.
 */

const engine = createTemplateEngine();
const parsed = new Map<string, Template[]>();
const maxCached = 2_000;

function parse(source: string): Template[] {
  let templates = parsed.get(source);
  if (!templates) {
    templates = engine.parse(source);
    if (parsed.size >= maxCached) parsed.delete(parsed.keys().next().value!);
    parsed.set(source, templates);
  }
  return templates;
}

/** What templates see: the firing context, with `for_each` and `window` also at the top level. */
export type TemplateScope = Record<string, unknown>;

export function templateScope(context: FiringContext, extra: Record<string, unknown> = {}): TemplateScope {
  return {
    event: context.event,
    automation: context.automation,
    firing: context.firing,
    for_each: context.firing.for_each,
    window: context.firing.window,
    ...extra,
  };
}

function renderFailed(source: string, error: unknown): PermanentActionError {
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return new PermanentActionError(`template ${JSON.stringify(source.slice(0, 80))} failed: ${reason}`);
}

/** Renders one template as text; plain strings without Liquid markup are returned as they are. */
export async function render(source: string, scope: TemplateScope): Promise<string> {
  if (!source.includes('{')) return source;
  try {
    return String(await engine.render(parse(source), scope));
  } catch (error) {
    throw renderFailed(source, error);
  }
}

/** A value JSON can carry as it is: plain data, finite numbers. */
function isJsonValue(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth > 64) return false;
  if (Array.isArray(value)) return value.every((item) => isJsonValue(item, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value as Record<string, unknown>).every((item) => isJsonValue(item, depth + 1));
  }
  return false;
}

/**
 * Renders one string of a templated JSON field: exactly one `{{ … }}` expression keeps its
 * value's JSON type (undefined becomes null); anything else renders as text.
 */
export async function renderValue(source: string, scope: TemplateScope): Promise<unknown> {
  const expression = wholeExpressionOf(source);
  if (expression === undefined) return render(source, scope);
  let value: unknown;
  try {
    value = (await engine.evalValue(expression, scope)) as unknown;
  } catch (error) {
    throw renderFailed(source, error);
  }
  if (value === undefined) return null;
  if (isJsonValue(value)) return value;
  if (typeof value === 'number') throw new PermanentActionError(`template ${JSON.stringify(source.slice(0, 80))} gave ${value}, which JSON cannot carry`);
  // Liquid-only values (ranges, drops): their text form.
  return render(source, scope);
}

/** Renders every string inside a JSON value, typed (see renderValue); object keys stay as they are. */
export async function renderJson(value: unknown, scope: TemplateScope): Promise<unknown> {
  if (typeof value === 'string') return renderValue(value, scope);
  if (Array.isArray(value)) return Promise.all(value.map((item) => renderJson(item, scope)));
  if (value !== null && typeof value === 'object') {
    const entries = await Promise.all(Object.entries(value).map(async ([key, item]) => [key, await renderJson(item, scope)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** Renders each value of a string map as text. */
export async function renderRecord(values: Readonly<Record<string, string>>, scope: TemplateScope): Promise<Record<string, string>> {
  const entries = await Promise.all(Object.entries(values).map(async ([key, item]) => [key, await render(item, scope)] as const));
  return Object.fromEntries(entries);
}
