import type { Resource, VigilEvent } from '../../schemas/event.ts';
import type { TriggerProgram } from '../trigger-program.ts';
import type { CompiledEventMatcher } from './event-matcher.ts';
import { literalPrefix } from './event-name-glob.ts';
import { labelValue } from './label-match.ts';

/**
 * Candidate automations for an event, without scanning them all (decisions 0101 and 0102).
 *
 * Each matcher of each trigger is filed in a bucket per positive event-name glob: under the
 * exact name for a glob without `*`, under its literal prefix cut back to the last dot for
 * one with `*` (`airflow.dag_run.*` → `airflow.dag_run.`, `airflow.dag*` → `airflow.`), and
 * under "" (every event) when the glob has no dotted prefix or the list is only negations.
 * Inside a bucket, a matcher that requires a resource label to have one of a few literal
 * values (`match: { id: "airflow.dag.sales" }`, `match: { dag_id: ["a", "b"] }`) is filed
 * under those values of that label, so 1,000 automations on `airflow.dag_run.failed`, one per
 * DAG, are not 1,000 candidates for every such event. Of its literal labels, a matcher is
 * filed under the one whose values the fewest matchers share.
 *
 * A lookup is one Map get for the event name (the buckets of every name seen are cached), then
 * per bucket its unlabelled entries and one Map get per label it is divided by. Nothing
 * depends on the number of automations except the candidates found, which the full matcher
 * then checks.
 */
interface Entry {
  readonly program: TriggerProgram;
  /** Lookup number that last returned this entry (dedupes a program filed in several places). */
  stamp: number;
}

/** Entries divided by the value of one resource label. */
interface LabelGroup {
  readonly label: string;
  readonly byValue: Map<string, Entry[]>;
}

interface Bucket {
  /** Entries that require no literal label: candidates for every event the bucket is looked up for. */
  readonly plain: Entry[];
  readonly groups: LabelGroup[];
}

export interface MatchIndex {
  readonly size: number;
  /** Programs that may match the event (each once). */
  candidates(event: VigilEvent): TriggerProgram[];
}

/** The literal prefix of a glob cut back to its last dot (inclusive); "" when it has no dot. */
function dottedPrefix(glob: string): string {
  const literal = literalPrefix(glob);
  return literal.slice(0, literal.lastIndexOf('.') + 1);
}

/**
 * Bucket keys of a matcher. Exact names never end with "." and prefixes always do (or are ""),
 * so both share one map without colliding.
 */
function nameKeys(m: CompiledEventMatcher): string[] {
  const lists = m.after === null ? [m.expect] : [m.expect, m.after];
  const keys: string[] = [];
  for (const list of lists) {
    if (list.positives.length === 0) return [''];
    for (const p of list.positives) keys.push(p.includes('*') ? dottedPrefix(p) : p);
  }
  return [...new Set(keys)];
}

type LiteralLabel = { readonly label: string; readonly values: readonly string[] };

/** Labels the matcher requires to equal one of a few literal values (no `*`, no `!`). */
function literalLabels(m: CompiledEventMatcher): LiteralLabel[] {
  const out: LiteralLabel[] = [];
  for (const check of m.labels) {
    const { positives, negatives } = check.globs;
    if (negatives.length === 0 && positives.length > 0 && positives.every((p) => !p.includes('*'))) out.push({ label: check.label, values: [...new Set(positives)] });
  }
  return out;
}

/** Distinct event names whose buckets are cached; the cache is cleared when full. */
const maxCachedNames = 10_000;

export function buildMatchIndex(programs: Iterable<TriggerProgram>): MatchIndex {
  const compiled = [...programs].map((program) => ({
    entry: { program, stamp: 0 },
    matchers: program.matchers.map((m) => ({ keys: nameKeys(m), labels: literalLabels(m) })),
  }));

  // How many matchers require each (label, value): a matcher is filed under its most selective label.
  const shared = new Map<string, Map<string, number>>();
  for (const p of compiled) {
    for (const m of p.matchers) {
      for (const { label, values } of m.labels) {
        let counts = shared.get(label);
        if (!counts) shared.set(label, (counts = new Map<string, number>()));
        for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
  }
  const mostSelective = (labels: readonly LiteralLabel[]): LiteralLabel | null => {
    if (labels.length <= 1) return labels[0] ?? null;
    let best: LiteralLabel | null = null;
    let bestCost = 0;
    for (const l of labels) {
      const counts = shared.get(l.label)!;
      let cost = 0;
      for (const v of l.values) cost += counts.get(v)!;
      if (best === null || cost < bestCost || (cost === bestCost && l.label !== best.label && (l.label === 'id' || (best.label !== 'id' && l.label < best.label)))) {
        best = l;
        bestCost = cost;
      }
    }
    return best;
  };

  const buckets = new Map<string, Bucket>();
  const bucket = (key: string): Bucket => {
    let b = buckets.get(key);
    if (!b) buckets.set(key, (b = { plain: [], groups: [] }));
    return b;
  };
  // A program's matchers are filed one after the other: a repeat is always the list's last entry.
  const file = (entries: Entry[], entry: Entry): void => {
    if (entries[entries.length - 1] !== entry) entries.push(entry);
  };
  for (const { entry, matchers } of compiled) {
    for (const m of matchers) {
      const best = mostSelective(m.labels);
      for (const key of m.keys) {
        const b = bucket(key);
        if (best === null) {
          file(b.plain, entry);
          continue;
        }
        let group = b.groups.find((g) => g.label === best.label);
        if (!group) b.groups.push((group = { label: best.label, byValue: new Map() }));
        for (const value of best.values) {
          const entries = group.byValue.get(value);
          if (entries) file(entries, entry);
          else group.byValue.set(value, [entry]);
        }
      }
    }
  }

  const anywhere = buckets.get('');
  /** The buckets an event name is looked up in: its exact name, each dotted prefix, and "". */
  const bucketsOf = (name: string): Bucket[] => {
    const found: Bucket[] = [];
    const exact = buckets.get(name);
    if (exact) found.push(exact);
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const b = buckets.get(name.slice(0, dot + 1));
      if (b) found.push(b);
    }
    if (anywhere) found.push(anywhere);
    return found;
  };
  const byName = new Map<string, Bucket[]>();
  let stamp = 0;

  const addAll = (out: TriggerProgram[], entries: readonly Entry[]): void => {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.stamp !== stamp) {
        e.stamp = stamp;
        out.push(e.program);
      }
    }
  };

  return {
    size: compiled.length,
    candidates(event) {
      const out: TriggerProgram[] = [];
      const name = event.event;
      let found = byName.get(name);
      if (found === undefined) {
        found = bucketsOf(name);
        if (byName.size >= maxCachedNames) byName.clear();
        byName.set(name, found);
      }
      if (found.length === 0) return out;
      stamp++;
      const resource: Resource = event.resource;
      for (let i = 0; i < found.length; i++) {
        const b = found[i]!;
        if (b.plain.length > 0) addAll(out, b.plain);
        const groups = b.groups;
        for (let j = 0; j < groups.length; j++) {
          const value = labelValue(resource, groups[j]!.label);
          if (value === undefined) continue;
          const entries = groups[j]!.byValue.get(value);
          if (entries !== undefined) addAll(out, entries);
        }
      }
      return out;
    },
  };
}
