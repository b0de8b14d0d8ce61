import type { Logger } from '../platform/logger.ts';
import type { Database } from '../platform/ports/database.ts';
import type { ActionQueue } from '../platform/ports/action-queue.ts';
import { outboxJobFromRow, type OutboxRow } from './outbox-job.ts';
import { retryPolicyForStored } from './retry-policy.ts';

/*
 * The outbox relay moves firings' action rows from `action_outbox` (written by the trigger
 * evaluator in the same transaction as the firing) into the action queue.
 *
 * In one transaction it claims pending rows (FOR UPDATE SKIP LOCKED, so several relays share
 * the work), enqueues them with the row id as the job id, records the runs as `queued` and
 * marks the rows relayed. If the queue is unreachable the transaction rolls back: the rows stay
 * pending and are retried with backoff. If the commit fails after the enqueue, the next pass
 * enqueues the same ids again, which the queue ignores: each row becomes exactly one job.
 *
 * Woken by NOTIFY vigil_outbox; polls as a fallback (missed notifications, lost LISTEN connection).
 */

export interface OutboxRelayOptions {
  readonly db: Database;
  readonly queue: ActionQueue;
  readonly logger: Logger;
  /** Rows per transaction (default 500). */
  readonly batchSize?: number;
  /** Fallback poll interval when no NOTIFY arrives (default 500 ms). */
  readonly pollIntervalMs?: number;
  /** Longest wait between attempts while the queue or database is failing (default 10 s). */
  readonly maxBackoffMs?: number;
}

export interface OutboxRelay {
  /** Relays everything pending now; resolves with the number of rows relayed. For tests and tools. */
  flush(): Promise<number>;
  close(): Promise<void>;
}

export const outboxChannel = 'vigil_outbox';

/** One relay pass over at most `batchSize` pending rows; returns how many it relayed. */
export async function relayPendingBatch(db: Database, queue: ActionQueue, batchSize: number): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx.query<OutboxRow>(
      `SELECT id, firing_id, automation_name, phase, action_index, action, context
         FROM action_outbox
        WHERE relayed_at IS NULL
        ORDER BY created_at, id
        LIMIT $1
          FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await queue.enqueue(rows.map((row) => ({ id: row.id, data: outboxJobFromRow(row), policy: retryPolicyForStored(row.action) })));
    const ids = rows.map((row) => row.id);
    await tx.query('UPDATE action_outbox SET relayed_at = now() WHERE id = ANY($1::uuid[])', [ids]);
    await tx.query(
      `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status)
       SELECT o.id, o.firing_id, o.automation_name, o.phase, o.action_index, coalesce(o.action->>'kind', 'unknown'), 'queued'
         FROM action_outbox o WHERE o.id = ANY($1::uuid[])
       ON CONFLICT (id) DO NOTHING`,
      [ids],
    );
    return rows.length;
  });
}

export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const { db, queue, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;

  let closed = false;
  /** A NOTIFY arrived since the last pass started: run another pass instead of sleeping. */
  let notified = false;
  let backingOff = false;
  let endSleep: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        endSleep = undefined;
        resolve();
      }, ms);
      endSleep = () => {
        clearTimeout(timer);
        endSleep = undefined;
        resolve();
      };
    });
  const wake = () => {
    notified = true;
    if (!backingOff) endSleep?.();
  };

  let unlisten: (() => Promise<void>) | undefined;
  try {
    unlisten = await db.listen(outboxChannel, wake);
  } catch (error) {
    logger.warn({ err: error }, 'outbox relay: LISTEN failed; relying on polling');
  }

  let passInFlight: Promise<number> | undefined;
  const pass = (): Promise<number> => {
    passInFlight ??= relayPendingBatch(db, queue, batchSize).finally(() => (passInFlight = undefined));
    return passInFlight;
  };

  let failures = 0;
  const loop = (async () => {
    while (!closed) {
      notified = false;
      try {
        const relayed = await pass();
        if (failures > 0) logger.info({ failures }, 'outbox relay: recovered');
        failures = 0;
        if (relayed === batchSize) continue;
      } catch (error) {
        failures += 1;
        const delay = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10));
        if (failures === 1 || failures % 10 === 0) {
          logger.warn({ err: error, failures, retryInMs: delay }, 'outbox relay: cannot relay; rows stay pending');
        }
        backingOff = true;
        await sleep(delay);
        backingOff = false;
        continue;
      }
      if (!notified) await sleep(pollIntervalMs);
    }
  })();

  return {
    async flush() {
      let total = 0;
      for (;;) {
        const relayed = await pass();
        total += relayed;
        if (relayed < batchSize) return total;
      }
    },
    async close() {
      closed = true;
      endSleep?.();
      await loop;
      await unlisten?.();
    },
  };
}
