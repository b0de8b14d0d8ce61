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
  return Object.entries(spec).map(([label, value]) => ({ label, patterns: asList(value), globs: compileGlobList(asList(value)) }));
}

function labelOf(labels: Readonly<Record<string, string>>, label: string): string | undefined {
  return Object.hasOwn(labels, label) ? labels[label] : undefined;
}

/** The first label that does not match, or null when all do. A missing label only matches a list of negations. */
export function firstLabelMismatch(checks: readonly LabelCheck[], labels: Resource | RelatedResource): LabelMismatch | null {
  for (const check of checks) {
    const actual = labelOf(labels, check.label);
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
  return entries.findIndex((checks) => !related.some((r) => firstLabelMismatch(checks, r) === null));
}
