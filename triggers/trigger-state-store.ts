import type { Sql } from '../platform/ports/database.ts';
import { firingWrite, lateEvent, resolutionWrite, triggerHash, type ActionOutboxRow, type FiringWrite, type ResolutionWrite } from './firing-records.ts';
import type { TriggerMetrics } from './metrics.ts';
import type { TriggerProgram, TriggerState } from './trigger-program.ts';
import type { WindowEffect } from './windows/window-types.ts';
import type { VigilEvent } from '../schemas/event.ts';

/**
 * Trigger state rows and everything a state change writes (firings, action outbox, lifecycle
 * events), inside the caller's transaction. Rows are locked in (automation, key) order so that
 * evaluator replicas and the deadline timer never deadlock on each other.
 */
export interface StateRef {
  readonly program: TriggerProgram;
  readonly hash: string;
  readonly stateKey: string;
  readonly forEach: Readonly<Record<string, string>>;
  state: TriggerState;
}

export interface StateWant {
  readonly program: TriggerProgram;
  readonly stateKey: string;
  readonly forEach: Readonly<Record<string, string>>;
  /** Initial state when the row does not exist yet (or belongs to an older trigger definition). */
  initial(): TriggerState;
}

export const refKey = (automation: string, stateKey: string): string => `${automation}\u0000${stateKey}`;

const hashes = new WeakMap<TriggerProgram, string>();
export function programHash(program: TriggerProgram): string {
  let hash = hashes.get(program);
  if (!hash) {
    hash = triggerHash(program.automation);
    hashes.set(program, hash);
  }
  return hash;
}

function dueIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Creates missing rows, then locks and loads every wanted state. */
export async function lockStates(tx: Sql, wants: readonly StateWant[]): Promise<Map<string, StateRef>> {
  const unique = new Map<string, StateWant>();
  for (const w of wants) {
    const key = refKey(w.program.automation.name, w.stateKey);
    if (!unique.has(key)) unique.set(key, w);
  }
  const sorted = [...unique.values()].sort((a, b) =>
    a.program.automation.name < b.program.automation.name ? -1 : a.program.automation.name > b.program.automation.name ? 1 : a.stateKey < b.stateKey ? -1 : a.stateKey > b.stateKey ? 1 : 0,
  );
  const refs = new Map<string, StateRef>();
  if (sorted.length === 0) return refs;
  const names = sorted.map((w) => w.program.automation.name);
  const keys = sorted.map((w) => w.stateKey);
  const initials = sorted.map((w) => w.initial());
  await tx.query(
    `INSERT INTO trigger_state (automation_name, state_key, trigger_hash, for_each, state, due_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[])
     ON CONFLICT (automation_name, state_key) DO NOTHING`,
    [
      names,
      keys,
      sorted.map((w) => programHash(w.program)),
      sorted.map((w) => JSON.stringify(w.forEach)),
      initials.map((s) => JSON.stringify(s)),
      sorted.map((w, i) => dueIso(w.program.dueAt(initials[i]!))),
    ],
  );
  const rows = await tx.query<{ automation_name: string; state_key: string; trigger_hash: string; state: TriggerState }>(
    `SELECT s.automation_name, s.state_key, s.trigger_hash, s.state FROM trigger_state s
     JOIN unnest($1::text[], $2::text[]) AS w(automation_name, state_key) USING (automation_name, state_key)
     ORDER BY s.automation_name, s.state_key FOR UPDATE OF s`,
    [names, keys],
  );
  const byKey = new Map(rows.map((r) => [refKey(r.automation_name, r.state_key), r]));
  sorted.forEach((w, i) => {
    const key = refKey(w.program.automation.name, w.stateKey);
    const row = byKey.get(key);
    const hash = programHash(w.program);
    refs.set(key, { program: w.program, hash, stateKey: w.stateKey, forEach: w.forEach, state: row && row.trigger_hash === hash ? row.state : initials[i]! });
  });
  return refs;
}

/** Collects the writes of one transaction; `flush` writes them with a handful of statements. */
export interface WriteBatch {
  apply(ref: StateRef, effects: readonly WindowEffect[], now: number): void;
  /** Marks a state as changed (to be saved). */
  touch(ref: StateRef): void;
  readonly firings: number;
  readonly resolutions: number;
  readonly late: number;
  readonly duplicates: number;
  flush(tx: Sql, metrics: TriggerMetrics): Promise<void>;
}

export function createWriteBatch(allowedLatenessMs: number): WriteBatch {
  const touched = new Map<string, StateRef>();
  const fired: FiringWrite[] = [];
  const resolved: ResolutionWrite[] = [];
  const events: VigilEvent[] = [];
  let late = 0;
  let duplicates = 0;
  return {
    get firings() {
      return fired.length;
    },
    get resolutions() {
      return resolved.length;
    },
    get late() {
      return late;
    },
    get duplicates() {
      return duplicates;
    },
    touch(ref) {
      touched.set(refKey(ref.program.automation.name, ref.stateKey), ref);
    },
    apply(ref, effects, now) {
      this.touch(ref);
      const a = ref.program.automation;
      for (const effect of effects) {
        switch (effect.kind) {
          case 'fire': {
            const write = firingWrite(a, ref.hash, ref.stateKey, ref.forEach, effect);
            fired.push(write);
            events.push(write.lifecycleEvent);
            break;
          }
          case 'resolve': {
            const write = resolutionWrite(a, ref.hash, ref.stateKey, ref.forEach, effect);
            resolved.push(write);
            events.push(write.lifecycleEvent);
            break;
          }
          case 'late':
            late++;
            events.push(lateEvent(a, effect.event, effect.behindMs, allowedLatenessMs, now));
            break;
          case 'duplicate':
            duplicates++;
            break;
        }
      }
    },
    async flush(tx, metrics) {
      if (touched.size > 0) {
        const refs = [...touched.values()];
        await tx.query(
          `UPDATE trigger_state t SET state = u.state, trigger_hash = u.hash, due_at = u.due_at, updated_at = now()
           FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::timestamptz[]) AS u(automation_name, state_key, state, hash, due_at)
           WHERE t.automation_name = u.automation_name AND t.state_key = u.state_key`,
          [
            refs.map((r) => r.program.automation.name),
            refs.map((r) => r.stateKey),
            refs.map((r) => JSON.stringify(r.state)),
            refs.map((r) => r.hash),
            refs.map((r) => dueIso(r.program.dueAt(r.state))),
          ],
        );
        let earliest: number | null = null;
        for (const r of refs) {
          const due = r.program.dueAt(r.state);
          if (due !== null && (earliest === null || due < earliest)) earliest = due;
        }
        if (earliest !== null) await tx.query(`SELECT pg_notify('vigil_trigger_due', $1)`, [String(earliest)]);
      }
      if (fired.length > 0) {
        await tx.query(
          `INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, window_start, window_end, deadline, event_count, event_ids)
           SELECT id, a, k, f, 'triggered', ta, ws, we, d, c, e
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::int[], $10::jsonb[])
             AS u(id, a, k, f, ta, ws, we, d, c, e)
           ON CONFLICT (id) DO NOTHING`,
          [
            fired.map((w) => w.firing.id),
            fired.map((w) => w.firing.automationName),
            fired.map((w) => w.firing.stateKey),
            fired.map((w) => JSON.stringify(w.firing.forEach)),
            fired.map((w) => new Date(w.firing.triggeredAt).toISOString()),
            fired.map((w) => new Date(w.firing.windowStart).toISOString()),
            fired.map((w) => new Date(w.firing.windowEnd).toISOString()),
            fired.map((w) => dueIso(w.firing.deadline)),
            fired.map((w) => w.firing.count),
            fired.map((w) => JSON.stringify(w.firing.eventIds)),
          ],
        );
      }
      if (resolved.length > 0) {
        await tx.query(
          `UPDATE firings f SET status = 'resolved', resolved_at = u.at
           FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE f.id = u.id AND f.status = 'triggered'`,
          [resolved.map((r) => r.firingId), resolved.map((r) => new Date(r.resolvedAt).toISOString())],
        );
      }
      const actions: ActionOutboxRow[] = [...fired.flatMap((w) => w.actions), ...resolved.flatMap((r) => r.actions)];
      if (actions.length > 0) {
        await tx.query(
          `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[])
           ON CONFLICT (id) DO NOTHING`,
          [
            actions.map((r) => r.id),
            actions.map((r) => r.firingId),
            actions.map((r) => r.automationName),
            actions.map((r) => r.phase),
            actions.map((r) => r.actionIndex),
            actions.map((r) => JSON.stringify(r.action)),
            actions.map((r) => JSON.stringify(r.context)),
          ],
        );
        await tx.query(`NOTIFY vigil_outbox`);
      }
      if (events.length > 0) {
        await tx.query(
          `INSERT INTO event_outbox (id, event) SELECT * FROM unnest($1::uuid[], $2::jsonb[]) ON CONFLICT (id) DO NOTHING`,
          [events.map((e) => e.id), events.map((e) => JSON.stringify(e))],
        );
        await tx.query(`NOTIFY vigil_event_outbox`);
      }
      metrics.firings('triggered', fired.length);
      metrics.firings('resolved', resolved.length);
      metrics.lateEvents(late);
      metrics.duplicateEvents(duplicates);
    },
  };
}
