import type { Registry } from 'prom-client';
import type { Database, Sql } from '../platform/ports/database.ts';
import { startAutomationCatalog, silentLogger, type AutomationCatalog, type CatalogSnapshot, type Logger } from './automation-catalog.ts';
import { defaultAllowedLatenessMs } from './evaluator.ts';
import { triggerMetrics, type TriggerMetrics } from './metrics.ts';
import type { TriggerProgram, TriggerState } from './trigger-program.ts';
import { createWriteBatch, programHash, type OutboxHandOff, type OutboxWrites, type StateRef } from './trigger-state-store.ts';
import { withTransientRetry } from './transient-retry.ts';
import { notifyChannels } from '../platform/ports/notify-channels.ts';
import { rerunOnRequest } from '../platform/rerun-on-request.ts';

/**
 * Where proactive expectations and calendar deadlines fire. The timer sleeps until the earliest
 * `due_at` in `trigger_state` (setTimeout, not a polling period), then claims due rows with
 * `FOR UPDATE SKIP LOCKED` — so several replicas share the work and each deadline fires once —
 * and applies the state machine's timer step in the same transaction as the firing and its
 * outbox rows. A NOTIFY `vigil_trigger_due` from the evaluator re-arms it when an earlier
 * deadline appears.
 */
export interface DeadlineTimerOptions {
  readonly db: Database;
  readonly logger?: Logger;
  readonly allowedLatenessMs?: number;
  readonly metrics?: Registry;
  readonly catalog?: AutomationCatalog;
  /** Rows claimed per transaction (default 500). */
  readonly batchSize?: number;
  /** Longest sleep, as a safety net (default 30 s). */
  readonly maxSleepMs?: number;
  /** Receives each committed transaction's outbox rows (the relays of this process). */
  readonly onCommitted?: OutboxHandOff;
  readonly now?: () => number;
}

export interface DeadlineTimer {
  /** When the timer is armed to wake next (epoch ms), or null. */
  nextWakeAt(): number | null;
  close(): Promise<void>;
}

/** Creates (or re-initializes, after a trigger change or a resume) the state of triggers that are scheduled from the start. */
async function ensureScheduledStates(db: Sql, programs: Iterable<TriggerProgram>, now: number): Promise<void> {
  const list = [...programs].filter((p) => p.scheduledFromStart).sort((a, b) => (a.automation.name < b.automation.name ? -1 : 1));
  if (list.length === 0) return;
  const states = list.map((p) => p.initialState(now, null));
  await db.query(
    `INSERT INTO trigger_state (automation_name, state_key, trigger_hash, for_each, state, due_at)
     SELECT n, '', h, '{}'::jsonb, s, d FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[]) AS u(n, h, s, d)
     ON CONFLICT (automation_name, state_key) DO UPDATE SET trigger_hash = EXCLUDED.trigger_hash, state = EXCLUDED.state, due_at = EXCLUDED.due_at, updated_at = now()
     WHERE trigger_state.trigger_hash <> EXCLUDED.trigger_hash OR trigger_state.due_at IS NULL`,
    [
      list.map((p) => p.automation.name),
      list.map((p) => programHash(p)),
      states.map((s) => JSON.stringify(s)),
      list.map((p, i) => {
        const due = p.dueAt(states[i]!);
        return due === null ? null : new Date(due).toISOString();
      }),
    ],
  );
  await db.query('SELECT pg_notify($1, $2)', [notifyChannels.triggerDue, String(now)]);
}

/**
 * Claims and fires the due rows, up to `limit`, in one transaction. Returns how many rows it
 * handled; once committed, what it wrote to the outboxes goes to `onCommitted`.
 */
export async function fireDueStates(
  db: Database,
  snapshot: CatalogSnapshot,
  now: number,
  options: { limit: number; allowedLatenessMs: number; metrics: TriggerMetrics; onCommitted?: OutboxHandOff | undefined },
): Promise<number> {
  let outbox: OutboxWrites | undefined;
  const handled = await db.transaction(async (tx) => {
    const rows = await tx.query<{ automation_name: string; state_key: string; trigger_hash: string; for_each: Record<string, string>; state: TriggerState }>(
      `SELECT automation_name, state_key, trigger_hash, for_each, state FROM trigger_state
       WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [new Date(now).toISOString(), options.limit],
    );
    if (rows.length === 0) return 0;
    const writes = createWriteBatch(options.allowedLatenessMs);
    const unknown: Array<{ name: string; key: string }> = [];
    for (const row of rows) {
      const program = snapshot.programs.get(row.automation_name);
      if (!program || programHash(program) !== row.trigger_hash) {
        unknown.push({ name: row.automation_name, key: row.state_key });
        continue;
      }
      const ref: StateRef = { program, hash: row.trigger_hash, stateKey: row.state_key, forEach: row.for_each, state: row.state };
      writes.apply(ref, program.onTimer(ref.state, now), now);
    }
    await writes.flush(tx, options.metrics);
    outbox = writes.outboxWrites();
    if (unknown.length > 0) {
      // Not (yet) in this replica's catalog: look again shortly rather than spin.
      await tx.query(
        `UPDATE trigger_state t SET due_at = GREATEST(t.due_at, $3::timestamptz) FROM unnest($1::text[], $2::text[]) AS u(n, k)
         WHERE t.automation_name = u.n AND t.state_key = u.k`,
        [unknown.map((u) => u.name), unknown.map((u) => u.key), new Date(now + 1_000).toISOString()],
      );
    }
    return rows.length;
  });
  if (outbox && (outbox.actions.length > 0 || outbox.events.length > 0)) options.onCommitted?.(outbox);
  return handled;
}

export async function startDeadlineTimer(options: DeadlineTimerOptions): Promise<DeadlineTimer> {
  const { db } = options;
  const logger = options.logger ?? silentLogger;
  const allowedLatenessMs = options.allowedLatenessMs ?? defaultAllowedLatenessMs;
  const metrics = triggerMetrics(options.metrics);
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? 500;
  const maxSleepMs = options.maxSleepMs ?? 30_000;
  const ownCatalog = options.catalog === undefined;
  const catalog = options.catalog ?? (await startAutomationCatalog({ db, allowedLatenessMs, logger }));
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let wakeAt: number | null = null;

  const arm = (at: number): void => {
    if (closed) return;
    const target = Math.min(at, now() + maxSleepMs);
    if (timer && wakeAt !== null && wakeAt <= target) return;
    if (timer) clearTimeout(timer);
    wakeAt = target;
    timer = setTimeout(() => {
      timer = null;
      wakeAt = null;
      run();
    }, Math.max(0, target - now()));
  };

  const cycle = async (): Promise<void> => {
    let lastHandled: number;
    for (;;) {
      const handled = await withTransientRetry(() => fireDueStates(db, catalog.current(), now(), { limit: batchSize, allowedLatenessMs, metrics, onCommitted: options.onCommitted }), {
        isClosed: () => closed,
        logger,
        what: 'deadline timer',
        maxAttempts: 3,
      });
      lastHandled = handled;
      if (handled < batchSize || closed) break;
    }
    const [row] = await db.query<{ next: Date | null }>('SELECT min(due_at) AS next FROM trigger_state WHERE due_at IS NOT NULL');
    const next = row?.next ? row.next.getTime() : now() + maxSleepMs;
    // Due rows another replica holds right now: look again shortly instead of spinning.
    arm(lastHandled === 0 && next <= now() ? now() + 50 : next);
  };

  const cycles = rerunOnRequest(() =>
    cycle().catch((error: unknown) => {
      logger.error({ err: error }, 'deadline timer cycle failed; retrying in 1 s');
      arm(now() + 1_000);
    }),
  );
  const run = (): void => {
    if (!closed) void cycles.request();
  };

  const schedule = (snapshot: CatalogSnapshot): void => {
    ensureScheduledStates(db, snapshot.programs.values(), now())
      .then(() => run())
      .catch((error: unknown) => logger.warn({ err: error }, 'could not schedule deadline states'));
  };
  catalog.onChange(schedule);
  await ensureScheduledStates(db, catalog.current().programs.values(), now());
  const unlisten = await db.listen(notifyChannels.triggerDue, (payload) => {
    const at = Number(payload);
    if (Number.isFinite(at)) arm(at);
  });
  run();

  return {
    nextWakeAt: () => wakeAt,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await unlisten();
      await cycles.settled();
      if (ownCatalog) await catalog.close();
    },
  };
}
