import type { Sql } from '../platform/ports/database.ts';
import { processId } from '../platform/process-id.ts';
import { firingWrite, lateEvent, resolutionWrite, triggerHash, type FiringWrite, type ResolutionWrite } from './firing-records.ts';
import type { TriggerMetrics } from './metrics.ts';
import type { TriggerProgram, TriggerState } from './trigger-program.ts';
import type { WindowEffect } from './windows/window-types.ts';
import type { VigilEvent } from '../schemas/event.ts';
import type { ActionOutboxRow } from '../schemas/firing.ts';
import { notifyChannels } from '../platform/ports/notify-channels.ts';

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

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function dueIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The consumer positions a batch is fenced by: its group and the partitions its records came from. */
export interface PositionsLock {
  readonly group: string;
  readonly partitions: readonly number[];
}

interface LockedRow {
  readonly automation_name: string | null;
  readonly state_key: string | null;
  readonly trigger_hash: string | null;
  readonly state: TriggerState | null;
  readonly partition: number | null;
  readonly next_offset: bigint | null;
}

const stateColumns = 'automation_name, state_key, trigger_hash, state, NULL::int AS partition, NULL::bigint AS next_offset';

/**
 * In ONE statement: locks (creating if needed) the batch's consumer positions and returns the
 * stored offsets; creates the missing state rows; locks and loads every wanted state. Rows are
 * locked in a fixed order (positions by partition, states by automation and key).
 *
 * A state row another transaction created after this statement's snapshot (a replica or the
 * deadline timer inserting the same key concurrently) is neither created nor seen here: those
 * few keys are locked by a second statement, which sees it.
 */
export async function lockBatch(
  tx: Sql,
  wants: readonly StateWant[],
  positions: PositionsLock,
): Promise<{ refs: Map<string, StateRef>; stored: Map<number, bigint> }> {
  const unique = new Map<string, StateWant>();
  for (const w of wants) {
    const key = refKey(w.program.automation.name, w.stateKey);
    if (!unique.has(key)) unique.set(key, w);
  }
  const sorted = [...unique.values()].sort((a, b) =>
    a.program.automation.name < b.program.automation.name ? -1 : a.program.automation.name > b.program.automation.name ? 1 : a.stateKey < b.stateKey ? -1 : a.stateKey > b.stateKey ? 1 : 0,
  );
  const initials = sorted.map((w) => w.initial());
  // One JSON document for every row: states go in as JSON objects, not as escaped strings inside
  // a PostgreSQL array literal (which costs an escape pass in JS and an array parse in PostgreSQL).
  const document = JSON.stringify(
    sorted.map((w, i) => ({
      a: w.program.automation.name,
      k: w.stateKey,
      h: programHash(w.program),
      f: w.forEach,
      s: initials[i],
      d: dueIso(w.program.dueAt(initials[i]!)),
    })),
  );
  // The `= ANY` conditions let the planner find the states by primary key (the join alone got a
  // sequential scan of the table: it cannot know how many rows the JSON document holds).
  const rows = await tx.query<LockedRow>(
    `WITH positions AS (
       INSERT INTO consumer_positions AS c (consumer_group, partition, next_offset)
       SELECT $1, p, 0 FROM unnest($2::int[]) AS p ORDER BY p
       ON CONFLICT (consumer_group, partition) DO UPDATE SET next_offset = c.next_offset
       RETURNING partition, next_offset
     ), created AS (
       INSERT INTO trigger_state (automation_name, state_key, trigger_hash, for_each, state, due_at)
       SELECT u.a, u.k, u.h, u.f, u.s, u.d FROM jsonb_to_recordset($3::jsonb) AS u(a text, k text, h text, f jsonb, s jsonb, d timestamptz)
       ORDER BY u.a, u.k
       ON CONFLICT (automation_name, state_key) DO NOTHING
       RETURNING automation_name, state_key, trigger_hash, state
     ), existing AS (
       SELECT s.automation_name, s.state_key, s.trigger_hash, s.state FROM trigger_state s
       JOIN jsonb_to_recordset($3::jsonb) AS w(a text, k text) ON s.automation_name = w.a AND s.state_key = w.k
       WHERE s.automation_name = ANY($4::text[]) AND s.state_key = ANY($5::text[])
       ORDER BY s.automation_name, s.state_key FOR UPDATE OF s
     )
     SELECT NULL::text AS automation_name, NULL::text AS state_key, NULL::text AS trigger_hash, NULL::jsonb AS state, partition, next_offset FROM positions
     UNION ALL SELECT ${stateColumns} FROM created
     UNION ALL SELECT ${stateColumns} FROM existing`,
    [positions.group, [...positions.partitions].sort((a, b) => a - b), document, distinct(sorted.map((w) => w.program.automation.name)), distinct(sorted.map((w) => w.stateKey))],
  );
  const stored = new Map<number, bigint>();
  const byKey = new Map<string, LockedRow>();
  for (const row of rows) {
    if (row.partition !== null) stored.set(row.partition, BigInt(row.next_offset!));
    else byKey.set(refKey(row.automation_name!, row.state_key!), row);
  }
  const unseen = sorted.filter((w) => !byKey.has(refKey(w.program.automation.name, w.stateKey)));
  if (unseen.length > 0) {
    const late = await tx.query<LockedRow>(
      `SELECT s.automation_name, s.state_key, s.trigger_hash, s.state FROM trigger_state s
       JOIN unnest($1::text[], $2::text[]) AS w(automation_name, state_key) USING (automation_name, state_key)
       ORDER BY s.automation_name, s.state_key FOR UPDATE OF s`,
      [unseen.map((w) => w.program.automation.name), unseen.map((w) => w.stateKey)],
    );
    for (const row of late) byKey.set(refKey(row.automation_name!, row.state_key!), row);
  }
  const refs = new Map<string, StateRef>();
  sorted.forEach((w, i) => {
    const key = refKey(w.program.automation.name, w.stateKey);
    const row = byKey.get(key);
    const hash = programHash(w.program);
    refs.set(key, { program: w.program, hash, stateKey: w.stateKey, forEach: w.forEach, state: row && row.trigger_hash === hash ? row.state! : initials[i]! });
  });
  return { refs, stored };
}

/** Consumer positions to store with the writes (the evaluator's batch), in the same statement. */
export interface PositionsUpdate {
  readonly group: string;
  readonly positions: ReadonlyArray<{ readonly partition: number; readonly nextOffset: bigint }>;
}

/**
 * What a batch wrote to the two outboxes. Once its transaction has committed, the writer hands
 * it to the relays of its own process, which enqueue and append it at once instead of reading
 * it back (see OutboxHandOff); the relays' sweeps take whatever a hand-off did not finish.
 */
export interface OutboxWrites {
  readonly actions: readonly ActionOutboxRow[];
  readonly events: readonly VigilEvent[];
}

/** Receives the outbox rows of a committed transaction (never throws; failures are left to the relays' sweeps). */
export type OutboxHandOff = (writes: OutboxWrites) => void;

/** Collects the writes of one transaction; `flush` writes them all with ONE statement, whatever their number. */
export interface WriteBatch {
  apply(ref: StateRef, effects: readonly WindowEffect[], now: number): void;
  /** Marks a state as changed (to be saved). */
  touch(ref: StateRef): void;
  readonly firings: number;
  readonly resolutions: number;
  readonly late: number;
  readonly duplicates: number;
  flush(tx: Sql, metrics: TriggerMetrics, positions?: PositionsUpdate): Promise<void>;
  /** The outbox rows this batch writes (valid once flushed). */
  outboxWrites(): OutboxWrites;
}

/**
 * Every write of a batch in one statement: data-modifying CTEs over one JSON document (states,
 * firings, resolutions, action outbox rows, lifecycle events, consumer positions), then the
 * notifications. All CTEs run against the same snapshot, so a firing that is created and
 * resolved in the same batch is inserted already resolved (the UPDATE would not see the row).
 */
const flushStatement = `
WITH input AS (SELECT $1::jsonb AS j),
states AS (
  UPDATE trigger_state t SET state = u.state, trigger_hash = u.hash, due_at = u.due_at, updated_at = now()
  FROM input, jsonb_to_recordset(input.j->'states') AS u(a text, k text, state jsonb, hash text, due_at timestamptz)
  WHERE t.automation_name = u.a AND t.state_key = u.k
    AND t.automation_name = ANY($2::text[]) AND t.state_key = ANY($3::text[])
),
fired AS (
  INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, resolved_at, window_start, window_end, deadline, event_count, event_ids)
  SELECT u.id, u.a, u.k, u.f, u.status, u.ta, u.ra, u.ws, u.we, u.d, u.c, u.e
  FROM input, jsonb_to_recordset(input.j->'fired')
    AS u(id uuid, a text, k text, f jsonb, status text, ta timestamptz, ra timestamptz, ws timestamptz, we timestamptz, d timestamptz, c int, e jsonb)
  ON CONFLICT (id) DO NOTHING
),
resolved AS (
  UPDATE firings f SET status = 'resolved', resolved_at = u.at
  FROM input, jsonb_to_recordset(input.j->'resolved') AS u(id uuid, at timestamptz)
  WHERE f.id = u.id AND f.status = 'triggered'
),
actions AS (
  INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context)
  SELECT u.id, u.firing_id, u.a, u.phase, u.i, u.action, u.context
  FROM input, jsonb_to_recordset(input.j->'actions') AS u(id uuid, firing_id uuid, a text, phase text, i int, action jsonb, context jsonb)
  ON CONFLICT (id) DO NOTHING
),
events AS (
  INSERT INTO event_outbox (id, event)
  SELECT u.id, u.event FROM input, jsonb_to_recordset(input.j->'events') AS u(id uuid, event jsonb)
  ON CONFLICT (id) DO NOTHING
),
positions AS (
  UPDATE consumer_positions c SET next_offset = u.o, updated_at = now()
  FROM input, jsonb_to_recordset(input.j->'positions') AS u(g text, p int, o bigint)
  WHERE c.consumer_group = u.g AND c.partition = u.p
)
SELECT pg_notify(n.channel, n.payload) FROM input, jsonb_to_recordset(input.j->'notify') AS n(channel text, payload text)`;

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
    outboxWrites() {
      return { actions: [...fired.flatMap((w) => w.actions), ...resolved.flatMap((r) => r.actions)], events };
    },
    async flush(tx, metrics, positions) {
      const states: Array<{ a: string; k: string; state: TriggerState; hash: string; due_at: string | null }> = [];
      const notify: Array<{ channel: string; payload: string }> = [];
      let earliest: number | null = null;
      for (const r of touched.values()) {
        const due = r.program.dueAt(r.state);
        if (due !== null && (earliest === null || due < earliest)) earliest = due;
        states.push({ a: r.program.automation.name, k: r.stateKey, state: r.state, hash: r.hash, due_at: dueIso(due) });
      }
      if (earliest !== null) notify.push({ channel: notifyChannels.triggerDue, payload: String(earliest) });
      const resolvedAt = new Map(resolved.map((r) => [r.firingId, r.resolvedAt]));
      const firingRows = fired.map(({ firing: f }) => {
        const at = resolvedAt.get(f.id);
        return {
          id: f.id,
          a: f.automationName,
          k: f.stateKey,
          f: f.forEach,
          status: at === undefined ? 'triggered' : 'resolved',
          ta: new Date(f.triggeredAt).toISOString(),
          ra: at === undefined ? null : new Date(at).toISOString(),
          ws: new Date(f.windowStart).toISOString(),
          we: new Date(f.windowEnd).toISOString(),
          d: dueIso(f.deadline),
          c: f.count,
          e: f.eventIds,
        };
      });
      const { actions } = this.outboxWrites();
      // The payload says which process wrote the rows: its own relay has them handed over already.
      if (actions.length > 0) notify.push({ channel: notifyChannels.actionOutbox, payload: processId });
      if (events.length > 0) notify.push({ channel: notifyChannels.eventOutbox, payload: '' });
      const positionRows = positions ? positions.positions.map((p) => ({ g: positions.group, p: p.partition, o: p.nextOffset.toString() })) : [];
      if (states.length > 0 || firingRows.length > 0 || resolved.length > 0 || actions.length > 0 || events.length > 0 || positionRows.length > 0) {
        const names = distinct(states.map((state) => state.a));
        const keys = distinct(states.map((state) => state.k));
        await tx.query(flushStatement, [
          JSON.stringify({
            states,
            fired: firingRows,
            resolved: resolved.map((r) => ({ id: r.firingId, at: new Date(r.resolvedAt).toISOString() })),
            actions: actions.map((r) => ({ id: r.id, firing_id: r.firing_id, a: r.automation_name, phase: r.phase, i: r.action_index, action: r.action, context: r.context })),
            events: events.map((e) => ({ id: e.id, event: e })),
            positions: positionRows,
            notify,
          }),
          names,
          keys,
        ]);
      }
      metrics.firings('triggered', fired.length);
      metrics.firings('resolved', resolved.length);
      metrics.lateEvents(late);
      metrics.duplicateEvents(duplicates);
    },
  };
}

/** A paused automation's states keep their windows, but nothing is due: on resume the deadline timer re-arms them. */
export async function disarmDeadlines(tx: Sql, automationName: string): Promise<void> {
  await tx.query('UPDATE trigger_state SET due_at = NULL WHERE automation_name = $1', [automationName]);
}

/** A deleted automation's states go with it (its firings stay as history). */
export async function deleteStates(tx: Sql, automationName: string): Promise<void> {
  await tx.query('DELETE FROM trigger_state WHERE automation_name = $1', [automationName]);
}
