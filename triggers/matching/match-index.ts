import type { VigilEvent } from '../../schemas/event.ts';
import type { TriggerProgram } from '../trigger-program.ts';
import { literalPrefix } from './event-name-glob.ts';

/**
 * Candidate automations for an event, without scanning them all: a map by exact event name
 * (globs without `*`), a map by dotted prefix (a glob `airflow.dag_run.*` is filed under
 * `airflow.dag_run.`; `airflow.dag*` under `airflow.`), looked up at each `.` of the event
 * name, a map by resource id for triggers whose names are all wildcards but that pin
 * `match.id` to literal ids, and a bucket for the rest. A lookup costs a few hash lookups per
 * dot of the event name plus the candidates found, not the number of automations. Candidates
 * are then checked with the full matcher.
 */
interface Entry {
  readonly program: TriggerProgram;
  stamp: number;
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

/** Literal resource ids a trigger requires through `match.id`, or null when it allows others. */
function literalResourceIds(program: TriggerProgram): string[] | null {
  const ids = new Set<string>();
  for (const m of program.matchers) {
    const check = m.labels.find((c) => c.label === 'id');
    if (!check || check.globs.negatives.length > 0 || check.globs.positives.length === 0) return null;
    for (const p of check.globs.positives) {
      if (p.includes('*')) return null;
      ids.add(p);
    }
  }
  return [...ids];
}

export function buildMatchIndex(programs: Iterable<TriggerProgram>): MatchIndex {
  const exact = new Map<string, Entry[]>();
  const byPrefix = new Map<string, Entry[]>();
  const byResourceId = new Map<string, Entry[]>();
  const anywhere: Entry[] = [];
  let size = 0;
  let stamp = 0;
  const file = (map: Map<string, Entry[]>, key: string, entry: Entry): void => {
    const list = map.get(key);
    if (!list) map.set(key, [entry]);
    else if (list[list.length - 1] !== entry) list.push(entry);
  };

  for (const program of programs) {
    size++;
    const entry: Entry = { program, stamp: 0 };
    const patterns = program.namePatterns;
    if (patterns.length > 0 && patterns.every((p) => !p.includes('*') || dottedPrefix(p) !== '')) {
      for (const pattern of patterns) {
        if (pattern.includes('*')) file(byPrefix, dottedPrefix(pattern), entry);
        else file(exact, pattern, entry);
      }
      continue;
    }
    const ids = literalResourceIds(program);
    if (ids) {
      for (const id of ids) file(byResourceId, id, entry);
      continue;
    }
    anywhere.push(entry);
  }

  return {
    size,
    candidates(event) {
      stamp++;
      const out: TriggerProgram[] = [];
      const add = (entries: readonly Entry[] | undefined): void => {
        if (!entries) return;
        for (const e of entries) {
          if (e.stamp !== stamp) {
            e.stamp = stamp;
            out.push(e.program);
          }
        }
      };
      const name = event.event;
      add(exact.get(name));
      if (byPrefix.size > 0) {
        for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) add(byPrefix.get(name.slice(0, dot + 1)));
      }
      add(byResourceId.get(event.resource.id));
      add(anywhere);
      return out;
    },
  };
}
