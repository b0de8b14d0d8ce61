import type { Logger } from '../platform/logger.ts';
import type { Database, Sql } from '../platform/ports/database.ts';
import type { ActionQueue } from '../platform/ports/action-queue.ts';
import { createBackgroundWork } from '../platform/background-work.ts';
import { coalesceIdLists } from '../platform/coalescer.ts';
import { processId } from '../platform/process-id.ts';
import type { ActionOutboxRow } from '../schemas/firing.ts';
import { outboxJobFromRow } from './outbox-job.ts';
import { retryPolicyForStored } from './retry-policy.ts';
import { recordQueuedRuns } from './run-records.ts';
import { notifyChannels } from '../platform/ports/notify-channels.ts';

/*
 * The outbox relay moves firings' action rows from `action_outbox` (written by the trigger
 * evaluator in the same transaction as the firing) into the action queue.
 *
 * In one transaction it claims pending rows (FOR UPDATE SKIP LOCKED, so several relays share
 * the work), marks them relayed and records their runs as `queued` (one statement), then
 * enqueues them with the row id as the job id and commits. If the queue is unreachable the
 * transaction rolls back: the rows stay pending and are retried with backoff. If the commit
 * fails after the enqueue, the next pass enqueues the same ids again, which the queue ignores:
 * each row becomes exactly one job.
 *
 * Woken by NOTIFY vigil_outbox; polls as a fallback (missed notifications, lost LISTEN connection).
 *
 * When the trigger evaluator runs in this same process it hands each committed batch's rows
 * over (`handOff`): they are enqueued at once and then marked relayed with their runs recorded
 * `queued` (one statement, shared by the hand-offs in flight), which spares the claim
 * transaction and the NOTIFY wake-up on the way to the worker. The relay's polling sweep then
 * takes only rows at least `sweepAfterMs` old (a hand-off that failed or was cut short by a
 * crash), and a NOTIFY from this process (its payload is the writer's `processId`) is ignored;
 * one from another process (an evaluator without a relay of its own) gets a full pass at once.
 * A row enqueued twice (a hand-off and a sweep) is still one execution: the same job id while
 * the queue keeps the job, and after that the worker finds its run already succeeded.
 *
 * Retention: relayed rows older than `retentionMs` (7 days) are deleted periodically, except
 * those whose run is failed: a dead letter can be retried from its outbox row even after the
 * queue has dropped it. (The run record, not the outbox, is what stops a re-execution.)
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
  /** Relayed rows are deleted this long after they were relayed (default 7 days; 0 keeps them). */
  readonly retentionMs?: number;
  /** How often old relayed rows are deleted (default 1 h; the first pass runs a minute after start, or sooner when the interval is shorter). */
  readonly retentionIntervalMs?: number;
  /** Rows are handed over in this process (`handOff`): the polling sweep leaves rows younger than this to it (default 0: it relays every row). */
  readonly sweepAfterMs?: number;
}

export interface OutboxRelay {
  /** Enqueues the rows of a committed transaction now; whatever fails is left to the sweep. */
  handOff(rows: readonly ActionOutboxRow[]): void;
  /** Relays everything pending now; resolves with the number of rows relayed. For tests and tools. */
  flush(): Promise<number>;
  /** Deletes relayed rows past retention now; resolves with the number deleted. For tests and tools. */
  prune(): Promise<number>;
  close(): Promise<void>;
}

function jobsOf(rows: readonly ActionOutboxRow[]) {
  return rows.map((row) => ({ id: row.id, data: outboxJobFromRow(row), policy: retryPolicyForStored(row.action) }));
}

/** Marks enqueued rows relayed and records their runs as `queued` (rows already marked are left alone). */
const markRelayed = `WITH relayed AS (
       UPDATE action_outbox SET relayed_at = now() WHERE id = ANY($1::uuid[]) AND relayed_at IS NULL
       RETURNING id, firing_id, automation_name, phase, action_index, action
     ) ${recordQueuedRuns('relayed')}`;

/** Pending rows at least $2 ms old. */
const pendingRows = `relayed_at IS NULL AND created_at <= now() - $2 * interval '1 millisecond'`;

/** One relay pass over at most `batchSize` pending rows at least `olderThanMs` old; returns how many it relayed. */
export async function relayPendingBatch(db: Database, queue: ActionQueue, batchSize: number, olderThanMs = 0): Promise<number> {
  if (queue.sharesDatabase) return relayToQueueInDatabase(db, queue, batchSize, olderThanMs);
  return db.transaction(async (tx) => {
    // Claim, mark relayed and record the runs in one round trip; the enqueue below decides
    // whether all of it commits.
    const rows = await tx.query<ActionOutboxRow>(
      `WITH claimed AS (
         SELECT id FROM action_outbox
          WHERE ${pendingRows}
          ORDER BY created_at, id
          LIMIT $1
            FOR UPDATE SKIP LOCKED
       ), relayed AS (
         UPDATE action_outbox o SET relayed_at = now() FROM claimed WHERE o.id = claimed.id
         RETURNING o.id, o.firing_id, o.automation_name, o.phase, o.action_index, o.action, o.context, o.created_at
       ), runs AS (${recordQueuedRuns('relayed')})
       SELECT id, firing_id, automation_name, phase, action_index, action, context FROM relayed ORDER BY created_at, id`,
      [batchSize, olderThanMs],
    );
    if (rows.length === 0) return 0;
    await queue.enqueue(jobsOf(rows));
    return rows.length;
  });
}

/**
 * The relay for a queue kept in this same database (embedded mode: one process, one connection,
 * so the enqueue cannot run inside a transaction of ours): read the pending rows, enqueue them,
 * then mark them relayed and record their runs. A crash between the enqueue and the mark
 * enqueues them again after the restart, which the queue skips (same ids); a run that already
 * succeeded is not executed again either (the worker checks its record).
 */
async function relayToQueueInDatabase(db: Database, queue: ActionQueue, batchSize: number, olderThanMs: number): Promise<number> {
  const rows = await db.query<ActionOutboxRow>(
    `SELECT id, firing_id, automation_name, phase, action_index, action, context FROM action_outbox
      WHERE ${pendingRows} ORDER BY created_at, id LIMIT $1`,
    [batchSize, olderThanMs],
  );
  if (rows.length === 0) return 0;
  await queue.enqueue(jobsOf(rows));
  await db.query(markRelayed, [rows.map((row) => row.id)]);
  return rows.length;
}

/**
 * Deletes rows relayed before `relayedBefore`, except those whose run is failed (dead letters
 * stay retryable from their row), `batchSize` rows per statement; returns how many it deleted.
 */
export async function pruneRelayedOutbox(db: Sql, relayedBefore: Date, batchSize = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.query<{ id: string }>(
      `DELETE FROM action_outbox WHERE id IN (
         SELECT o.id FROM action_outbox o
          WHERE o.relayed_at < $1
            AND NOT EXISTS (SELECT 1 FROM action_runs r WHERE r.id = o.id AND r.status = 'failed')
          LIMIT $2)
       RETURNING id`,
      [relayedBefore, batchSize],
    );
    total += deleted.length;
    if (deleted.length < batchSize) return total;
  }
}

export async function startOutboxRelay(options: OutboxRelayOptions): Promise<OutboxRelay> {
  const { db, queue, logger } = options;
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const retentionMs = options.retentionMs ?? 7 * 24 * 3_600_000;
  const retentionIntervalMs = options.retentionIntervalMs ?? 3_600_000;
  const sweepAfterMs = options.sweepAfterMs ?? 0;

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
  /** Rows another process committed are waiting: the next pass takes every pending row, however young. */
  let fullPass = false;
  const wake = (payload: string) => {
    if (sweepAfterMs > 0 && payload === processId) return; // handed over already
    notified = true;
    fullPass = true;
    if (!backingOff) endSleep?.();
  };

  let unlisten: (() => Promise<void>) | undefined;
  try {
    unlisten = await db.listen(notifyChannels.actionOutbox, wake);
  } catch (error) {
    logger.warn({ err: error }, 'outbox relay: LISTEN failed; relying on polling');
  }

  /** One pass at a time; a caller asking for another age limit (flush: every row) waits for the one in flight. */
  let passInFlight: { readonly olderThanMs: number; readonly relayed: Promise<number> } | undefined;
  const pass = async (olderThanMs = sweepAfterMs): Promise<number> => {
    while (passInFlight && passInFlight.olderThanMs !== olderThanMs) await passInFlight.relayed.catch(() => 0);
    if (!passInFlight) {
      const relayed = relayPendingBatch(db, queue, batchSize, olderThanMs).finally(() => (passInFlight = undefined));
      passInFlight = { olderThanMs, relayed };
    }
    return passInFlight.relayed;
  };

  const mark = coalesceIdLists((ids) => db.query(markRelayed, [ids]));
  const handingOff = createBackgroundWork();
  const handOff = (rows: readonly ActionOutboxRow[]): void => {
    if (closed || rows.length === 0) return;
    handingOff.start(
      queue.enqueue(jobsOf(rows)).then(() => mark(rows.map((row) => row.id))),
      (error) => logger.warn({ err: error, rows: rows.length }, 'outbox relay: hand-off failed; the sweep will relay these rows'),
    );
  };

  let failures = 0;
  const loop = (async () => {
    while (!closed) {
      notified = false;
      const olderThanMs = fullPass ? 0 : sweepAfterMs;
      fullPass = false;
      try {
        const relayed = await pass(olderThanMs);
        if (failures > 0) logger.info({ failures }, 'outbox relay: recovered');
        failures = 0;
        if (relayed === batchSize) continue;
      } catch (error) {
        if (olderThanMs === 0) fullPass = true; // still owed once the failure passes
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

  let pruneInFlight: Promise<number> | undefined;
  const prune = (): Promise<number> => {
    if (retentionMs <= 0) return Promise.resolve(0);
    pruneInFlight ??= pruneRelayedOutbox(db, new Date(Date.now() - retentionMs)).finally(() => (pruneInFlight = undefined));
    return pruneInFlight;
  };
  let pruneTimer: NodeJS.Timeout | undefined;
  const schedulePrune = (delayMs: number) => {
    if (closed || retentionMs <= 0) return;
    pruneTimer = setTimeout(() => {
      prune().then(
        (deleted) => {
          if (deleted > 0) logger.info({ deleted, retentionMs }, 'outbox relay: deleted relayed rows past retention');
        },
        (error: unknown) => logger.warn({ err: error }, 'outbox relay: cannot delete relayed rows past retention; will try again'),
      ).finally(() => schedulePrune(retentionIntervalMs));
    }, delayMs);
    pruneTimer.unref();
  };
  schedulePrune(Math.min(60_000, retentionIntervalMs));

  return {
    handOff,
    prune,
    async flush() {
      await handingOff.settled();
      let total = 0;
      for (;;) {
        const relayed = await pass(0);
        total += relayed;
        if (relayed < batchSize) return total;
      }
    },
    async close() {
      closed = true;
      clearTimeout(pruneTimer);
      endSleep?.();
      await handingOff.settled();
      await loop;
      await pruneInFlight?.catch(() => undefined);
      await unlisten?.();
    },
  };
}
