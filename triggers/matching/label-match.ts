import type { RelatedResource, Resource } from '../../schemas/event.ts';
import { compileGlobList, type GlobList } from './event-name-glob.ts';

/** `match`: resource label → glob or list of globs (OR-ed, `!` excludes). Every listed label must match. */
export type LabelMatchSpec = Readonly<Record<string, string | readonly string[]>>;

export interface LabelCheck {
  readonly label: string;
  readonly globs: GlobList;
  readonly patterns: readonly string[];
}

export interface LabelMismatch {
  readonly label: string;
  readonly expected: readonly string[];
  readonly actual: string | undefined;
}

function asList(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

export function compileLabelChecks(spec: LabelMatchSpec | undefined): LabelCheck[] {
  if (!spec) return [];
  const checks: LabelCheck[] = [];
  for (const label of Object.keys(spec)) {
    const patterns = asList(spec[label]!);
    checks.push({ label, patterns, globs: compileGlobList(patterns) });
  }
  return checks;
}

/** A label's value: own string properties only (never one inherited from a prototype). */
export function labelValue(labels: Readonly<Record<string, string>>, label: string): string | undefined {
  const value = labels[label];
  return typeof value === 'string' && Object.hasOwn(labels, label) ? value : undefined;
}

/** Whether every check passes; a missing label only matches a list of negations. Allocates nothing. */
export function labelsMatch(checks: readonly LabelCheck[], labels: Resource | RelatedResource): boolean {
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i]!;
    const actual = labelValue(labels, check.label);
    if (actual === undefined ? check.globs.positives.length !== 0 : !check.globs.test(actual)) return false;
  }
  return true;
}

/** The first label that does not match, or null when all do. A missing label only matches a list of negations. */
export function firstLabelMismatch(checks: readonly LabelCheck[], labels: Resource | RelatedResource): LabelMismatch | null {
  for (const check of checks) {
    const actual = labelValue(labels, check.label);
    const ok = actual === undefined ? check.globs.positives.length === 0 : check.globs.test(actual);
    if (!ok) return { label: check.label, expected: check.patterns, actual };
  }
  return null;
}

/** `match_related`: each entry must be satisfied by some related resource (role and labels, globs as in `match`). */
export function compileRelatedChecks(spec: LabelMatchSpec | readonly LabelMatchSpec[] | undefined): LabelCheck[][] {
  if (!spec) return [];
  const entries: readonly LabelMatchSpec[] = Array.isArray(spec) ? spec : [spec as LabelMatchSpec];
  return entries.map((entry) => compileLabelChecks(entry));
}

/** Index of the first `match_related` entry no related resource satisfies, or -1 when all are satisfied. */
export function firstUnmatchedRelated(entries: readonly LabelCheck[][], related: readonly RelatedResource[]): number {
  for (let i = 0; i < entries.length; i++) {
    let satisfied = false;
    for (let j = 0; j < related.length; j++) {
      if (labelsMatch(entries[i]!, related[j]!)) {
        satisfied = true;
        break;
      }
    }
    if (!satisfied) return i;
  }
  return -1;
}
