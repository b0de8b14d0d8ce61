import { createBackgroundWork } from '../platform/background-work.ts';
import { coalesceIdLists } from '../platform/coalescer.ts';
import type { Database } from '../platform/ports/database.ts';
import type { EventLog } from '../platform/ports/event-log.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { silentLogger, type Logger } from './automation-catalog.ts';
import { notifyChannels } from '../platform/ports/notify-channels.ts';
import { rerunOnRequest } from '../platform/rerun-on-request.ts';

/**
 * Appends the events in `event_outbox` (vigil.automation.triggered|resolved, vigil.event.late)
 * to the event log and marks them appended. At-least-once: if the process dies between the
 * append and the mark, the rows are appended again; their ids are deterministic, so
 * downstream dedupe makes the resend harmless.
 *
 * Two ways in. The evaluator and the deadline timer of this process `publish` the events of
 * each transaction right after it commits: appended at once, then marked (one statement,
 * shared by the publications in flight). A sweep takes the rows a publication did not finish
 * (a failed append, a crash): with `sweepAfterMs` set, only rows at least that old, polled
 * every `pollMs`; without it (no publisher in this process), every pending row, woken by
 * NOTIFY vigil_event_outbox as well.
 */
export interface LifecycleEventRelayOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger?: Logger;
  readonly batchSize?: number;
  /** Sweep period (default 1 s). */
  readonly pollMs?: number;
  /** The sweep leaves rows younger than this to `publish` (default 0: it relays every row, and listens). */
  readonly sweepAfterMs?: number;
}

export interface LifecycleEventRelay {
  /** Appends the events of a committed transaction now; whatever fails is left to the sweep. */
  publish(events: readonly VigilEvent[]): void;
  close(): Promise<void>;
}

const markAppended = 'UPDATE event_outbox SET appended_at = now() WHERE id = ANY($1::uuid[])';

/**
 * Relays one batch of pending rows at least `olderThanMs` old; returns how many events it
 * appended. The rows are claimed (FOR UPDATE SKIP LOCKED, so replicas share the work) in a
 * transaction held across the append. An event log kept in this same database (embedded mode:
 * one process, one connection) cannot be appended to inside that transaction: there the rows
 * are read, appended, then marked.
 */
export async function relayLifecycleEvents(db: Database, log: EventLog, batchSize: number, olderThanMs = 0): Promise<number> {
  const pending = (lock: boolean) =>
    `SELECT id, event FROM event_outbox WHERE appended_at IS NULL AND created_at <= now() - $2 * interval '1 millisecond'
      ORDER BY created_at LIMIT $1${lock ? ' FOR UPDATE SKIP LOCKED' : ''}`;
  if (log.sharesDatabase) {
    const rows = await db.query<{ id: string; event: VigilEvent }>(pending(false), [batchSize, olderThanMs]);
    if (rows.length === 0) return 0;
    await log.append(rows.map((r) => r.event));
    await db.query(markAppended, [rows.map((r) => r.id)]);
    return rows.length;
  }
  return db.transaction(async (tx) => {
    const rows = await tx.query<{ id: string; event: VigilEvent }>(pending(true), [batchSize, olderThanMs]);
    if (rows.length === 0) return 0;
    await log.append(rows.map((r) => r.event));
    await tx.query(markAppended, [rows.map((r) => r.id)]);
    return rows.length;
  });
}

export async function startLifecycleEventRelay(options: LifecycleEventRelayOptions): Promise<LifecycleEventRelay> {
  const { db, log } = options;
  const logger = options.logger ?? silentLogger;
  const batchSize = options.batchSize ?? 500;
  const sweepAfterMs = options.sweepAfterMs ?? 0;
  let closed = false;

  const drain = async (): Promise<void> => {
    while (!closed && (await relayLifecycleEvents(db, log, batchSize, sweepAfterMs)) === batchSize) {
      // keep going while full batches come back
    }
  };
  const drains = rerunOnRequest(() => drain().catch((error: unknown) => logger.warn({ err: error }, 'lifecycle event relay failed; will retry')));
  const kick = (): void => {
    if (!closed) void drains.request();
  };
  const unlisten = sweepAfterMs > 0 ? undefined : await db.listen(notifyChannels.eventOutbox, kick);
  const poll = setInterval(kick, options.pollMs ?? 1_000);
  kick();

  const mark = coalesceIdLists((ids) => db.query(markAppended, [ids]));
  const publishing = createBackgroundWork();
  return {
    publish(events) {
      if (closed || events.length === 0) return;
      publishing.start(
        log.append(events).then(() => mark(events.map((event) => event.id))),
        (error) => logger.warn({ err: error, events: events.length }, 'lifecycle events not published at once; the relay sweep will append them'),
      );
    },
    async close() {
      closed = true;
      clearInterval(poll);
      await publishing.settled();
      await unlisten?.();
      await drains.settled();
    },
  };
}
