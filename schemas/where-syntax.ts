/**
 * The syntax of `where`: a JSON Logic expression over the whole event (compiled by
 * triggers/matching/where-clause.ts with json-logic-engine). Safety: only the operators below
 * are accepted; `var`-like paths must be literal and may not name `__proto__`, `constructor` or
 * `prototype`; size and depth are bounded.
 */
const allowedWhereOperators: readonly string[] = [
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
