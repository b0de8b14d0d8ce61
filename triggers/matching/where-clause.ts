import { LogicEngine } from 'json-logic-engine';
import type { VigilEvent } from '../../schemas/event.ts';
import { whereProblems } from '../../schemas/where-syntax.ts';

/**
 * `where`: a JSON Logic expression over the whole event, compiled with json-logic-engine. The
 * expressions accepted are checked by schemas/where-syntax.ts; the data handed to an expression
 * is a copy of the event made of null-prototype objects. Together these keep expressions away
 * from prototypes, globals and the process.
 */
const engine = new LogicEngine(undefined, { maxArrayLength: 10_000, maxStringLength: 100_000 });

export type WherePredicate = (data: WhereData) => boolean;
/** The event as `where` expressions see it (null-prototype copy). */
export type WhereData = { readonly __whereData: true };

/** Compiled expressions, by their JSON text: automations with the same `where` share one function (bounded; cleared when full). */
const compiled = new Map<string, WherePredicate>();
const maxCompiled = 10_000;

/** Compiles a validated expression. Throws on an invalid one. */
export function compileWhere(logic: unknown): WherePredicate {
  const key = JSON.stringify(logic);
  const known = compiled.get(key);
  if (known) return known;
  const problems = whereProblems(logic);
  if (problems.length > 0) throw new Error(`invalid where: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  const fn = engine.build(logic) as (data: unknown) => unknown;
  const predicate: WherePredicate = (data) => {
    try {
      return Boolean(engine.truthy(fn(data)));
    } catch {
      return false;
    }
  };
  if (compiled.size >= maxCompiled) compiled.clear();
  compiled.set(key, predicate);
  return predicate;
}

function nullPrototypeCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = value as readonly unknown[];
    const out = new Array<unknown>(items.length);
    for (let i = 0; i < items.length; i++) out[i] = nullPrototypeCopy(items[i]);
    return out;
  }
  const source = value as Record<string, unknown>;
  const copy = Object.create(null) as Record<string, unknown>;
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    copy[key] = nullPrototypeCopy(source[key]);
  }
  return copy;
}

/** The data a `where` expression runs against: the whole event, copied into null-prototype objects. */
export function whereData(event: VigilEvent): WhereData {
  return nullPrototypeCopy(event) as WhereData;
}
