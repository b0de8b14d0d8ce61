/** A compact structural diff of JSON values, for `vigil apply`'s plan. */

export interface JsonChange {
  /** `trigger.within`, `actions[0].channel`; empty for the whole value. */
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const segment = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  if (path === '') return /^[A-Za-z_]/.test(segment) ? segment : `[${segment}]`;
  return /^[A-Za-z_]/.test(segment) ? `${path}.${segment}` : `${path}[${segment}]`;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a).filter((key) => a[key] !== undefined);
    const otherKeys = Object.keys(b).filter((key) => b[key] !== undefined);
    return keys.length === otherKeys.length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

/** The changes that turn `before` into `after`, field by field (array items by position). */
export function diffJson(before: unknown, after: unknown, path = ''): JsonChange[] {
  if (jsonEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...Object.keys(after), ...Object.keys(before).filter((key) => !Object.hasOwn(after, key))];
    return keys.flatMap((key) => {
      const had = before[key] !== undefined;
      const has = after[key] !== undefined;
      if (had && !has) return [{ path: child(path, key), kind: 'removed' as const, before: before[key] }];
      if (!had && has) return [{ path: child(path, key), kind: 'added' as const, after: after[key] }];
      return diffJson(before[key], after[key], child(path, key));
    });
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const changes: JsonChange[] = [];
    const common = Math.min(before.length, after.length);
    for (let index = 0; index < common; index++) changes.push(...diffJson(before[index], after[index], child(path, index)));
    for (let index = common; index < after.length; index++) changes.push({ path: child(path, index), kind: 'added', after: after[index] });
    for (let index = common; index < before.length; index++) changes.push({ path: child(path, index), kind: 'removed', before: before[index] });
    return changes;
  }
  return [{ path, kind: 'changed', before, after }];
}

/** Compact JSON, cut to `max` characters. */
function compactJson(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `~ trigger.within: "1h" → "2h"`, `+ tags[1]: "etl"`, `- description: "old"` */
export function formatChange(change: JsonChange): string {
  const path = change.path || '(document)';
  switch (change.kind) {
    case 'added':
      return `+ ${path}: ${compactJson(change.after)}`;
    case 'removed':
      return `- ${path}: ${compactJson(change.before)}`;
    case 'changed':
      return `~ ${path}: ${compactJson(change.before)} → ${compactJson(change.after)}`;
  }
}
