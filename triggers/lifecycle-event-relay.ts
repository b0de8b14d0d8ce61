import type { Database } from '../platform/ports/database.ts';
import type { EventLog } from '../platform/ports/event-log.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { silentLogger, type Logger } from './automation-catalog.ts';

/**
 * Appends the events in `event_outbox` (vigil.automation.triggered|resolved, vigil.event.late)
 * to the event log and marks them appended. At-least-once: if the process dies between the
 * append and the commit, the rows are appended again; their ids are deterministic, so
 * downstream dedupe makes the resend harmless. Woken by NOTIFY vigil_event_outbox, with a
 * polling fallback.
 */
export interface LifecycleEventRelayOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger?: Logger;
  readonly batchSize?: number;
  /** Fallback poll period (default 1 s). */
  readonly pollMs?: number;
}

const markAppended = 'UPDATE event_outbox SET appended_at = now() WHERE id = ANY($1::uuid[])';

/**
 * Relays one batch; returns how many events it appended. The rows are claimed (FOR UPDATE SKIP
 * LOCKED, so replicas share the work) in a transaction held across the append. An event log kept
 * in this same database (embedded mode: one process, one connection) cannot be appended to
 * inside that transaction: there the rows are read, appended, then marked.
 */
export async function relayLifecycleEvents(db: Database, log: EventLog, batchSize: number): Promise<number> {
  const pending = (lock: boolean) =>
    `SELECT id, event FROM event_outbox WHERE appended_at IS NULL ORDER BY created_at LIMIT $1${lock ? ' FOR UPDATE SKIP LOCKED' : ''}`;
  if (log.sharesDatabase) {
    const rows = await db.query<{ id: string; event: VigilEvent }>(pending(false), [batchSize]);
    if (rows.length === 0) return 0;
    await log.append(rows.map((r) => r.event));
    await db.query(markAppended, [rows.map((r) => r.id)]);
    return rows.length;
  }
  return db.transaction(async (tx) => {
    const rows = await tx.query<{ id: string; event: VigilEvent }>(pending(true), [batchSize]);
    if (rows.length === 0) return 0;
    await log.append(rows.map((r) => r.event));
    await tx.query(markAppended, [rows.map((r) => r.id)]);
    return rows.length;
  });
}

export async function startLifecycleEventRelay(options: LifecycleEventRelayOptions): Promise<{ close(): Promise<void> }> {
  const logger = options.logger ?? silentLogger;
  const batchSize = options.batchSize ?? 500;
  let closed = false;
  let running: Promise<void> | null = null;
  let again = false;

  const drain = async (): Promise<void> => {
    while (!closed && (await relayLifecycleEvents(options.db, options.log, batchSize)) === batchSize) {
      // keep going while full batches come back
    }
  };
  const kick = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((error: unknown) => logger.warn({ err: error }, 'lifecycle event relay failed; will retry'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          kick();
        }
      });
  };
  const unlisten = await options.db.listen('vigil_event_outbox', kick);
  const poll = setInterval(kick, options.pollMs ?? 1_000);
  kick();
  return {
    async close() {
      closed = true;
      clearInterval(poll);
      await unlisten();
      await running;
    },
  };
}
