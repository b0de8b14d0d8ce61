import { LogicEngine } from 'json-logic-engine';
import type { VigilEvent } from '../../schemas/event.ts';

/**
 * `where`: a JSON Logic expression over the whole event, compiled with json-logic-engine.
 * Safety: only the operators below are accepted; `var`-like paths must be literal and may not
 * name `__proto__`, `constructor` or `prototype`; the data handed to the expression is a copy
 * of the event made of null-prototype objects. Together these keep expressions away from
 * prototypes, globals and the process.
 */
export const allowedWhereOperators: readonly string[] = [
  'var', 'missing', 'missing_some', 'exists',
  '==', '===', '!=', '!==', '<', '<=', '>', '>=', '!', '!!', 'and', 'or', 'if', '?:', '??',
  'in', 'cat', 'substr', 'length',
  '+', '-', '*', '/', '%', 'min', 'max',
  'some', 'all', 'none', 'map', 'filter', 'reduce', 'merge',
];
const allowed = new Set(allowedWhereOperators);
const pathOperators = new Set(['var', 'missing', 'missing_some', 'exists']);
const forbiddenSegments = new Set(['__proto__', 'constructor', 'prototype']);
const maxNodes = 1_000;
const maxDepth = 32;

export interface WhereProblem {
  /** Path inside the expression, e.g. `and.1.==.0.var`. */
  readonly path: string;
  readonly message: string;
}

function checkPath(value: unknown, path: string, problems: WhereProblem[]): void {
  if (typeof value === 'number') return;
  if (typeof value !== 'string') {
    problems.push({ path, message: 'paths must be literal strings or numbers (computed paths are not allowed)' });
    return;
  }
  const bad = value.split('.').find((segment) => forbiddenSegments.has(segment) || segment.startsWith('__'));
  if (bad !== undefined) problems.push({ path, message: `path segment "${bad}" is not allowed` });
}

/** Problems with a `where` expression: unknown operators, computed or hostile paths, size. Empty when valid. */
export function whereProblems(logic: unknown): WhereProblem[] {
  const problems: WhereProblem[] = [];
  let nodes = 0;
  const visit = (node: unknown, path: string, depth: number): void => {
    nodes += 1;
    if (nodes > maxNodes) {
      if (nodes === maxNodes + 1) problems.push({ path, message: `expression has more than ${maxNodes} nodes` });
      return;
    }
    if (depth > maxDepth) {
      problems.push({ path, message: `expression is nested more than ${maxDepth} levels deep` });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((child, i) => visit(child, path === '' ? String(i) : `${path}.${i}`, depth + 1));
      return;
    }
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      problems.push({ path, message: 'an operation must be an object with exactly one key (the operator)' });
      return;
    }
    const op = keys[0]!;
    const opPath = path === '' ? op : `${path}.${op}`;
    if (!allowed.has(op)) {
      problems.push({ path: opPath, message: `unknown or disallowed operator "${op}"; allowed: ${allowedWhereOperators.join(' ')}` });
      return;
    }
    const args: unknown = (node as Record<string, unknown>)[op];
    if (pathOperators.has(op)) {
      const list = Array.isArray(args) ? args : [args];
      list.forEach((arg, i) => {
        const argPath = `${opPath}.${i}`;
        if (op === 'var' && i === 1) return visit(arg, argPath, depth + 1); // default value
        if (op === 'missing_some' && i === 0) return visit(arg, argPath, depth + 1); // minimum count
        if (Array.isArray(arg)) arg.forEach((p, j) => checkPath(p, `${argPath}.${j}`, problems));
        else checkPath(arg, argPath, problems);
      });
      return;
    }
    visit(args, opPath, depth + 1);
  };
  visit(logic, '', 0);
  return problems;
}

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
