import type { Template } from 'liquidjs';
import { createTemplateEngine } from '../schemas/action.ts';
import type { FiringContext } from '../schemas/firing.ts';
import { PermanentActionError } from '../platform/ports/action-queue.ts';

/*
 * Rendering action templates (Liquid, sandboxed; see createTemplateEngine in schemas/action.ts)
 * against a firing. Templates were validated when the automation was saved; one that still
 * fails to render fails the action permanently (retrying renders the same thing).
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

/** Renders one template; plain strings without Liquid markup are returned as they are. */
export async function render(source: string, scope: TemplateScope): Promise<string> {
  if (!source.includes('{')) return source;
  try {
    return String(await engine.render(parse(source), scope));
  } catch (error) {
    throw new PermanentActionError(`template ${JSON.stringify(source.slice(0, 80))} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

/** Renders every string inside a JSON value (object keys stay as they are). */
export async function renderJson(value: unknown, scope: TemplateScope): Promise<unknown> {
  if (typeof value === 'string') return render(value, scope);
  if (Array.isArray(value)) return Promise.all(value.map((item) => renderJson(item, scope)));
  if (value !== null && typeof value === 'object') {
    const entries = await Promise.all(Object.entries(value).map(async ([key, item]) => [key, await renderJson(item, scope)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** Renders each value of a string map. */
export async function renderRecord(values: Readonly<Record<string, string>>, scope: TemplateScope): Promise<Record<string, string>> {
  const entries = await Promise.all(Object.entries(values).map(async ([key, item]) => [key, await render(item, scope)] as const));
  return Object.fromEntries(entries);
}
