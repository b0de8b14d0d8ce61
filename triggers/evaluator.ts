import type { Registry } from 'prom-client';
import { consumeGuarded } from '../platform/consumers/guarded-consumer.ts';
import type { Database, Sql } from '../platform/ports/database.ts';
import type { EventLog, LogBatch, LogRecord, Subscription } from '../platform/ports/event-log.ts';
import { startAutomationCatalog, silentLogger, type AutomationCatalog, type CatalogSnapshot, type Logger } from './automation-catalog.ts';
import { triggerMetrics, type TriggerMetrics } from './metrics.ts';
import type { Route, TriggerProgram } from './trigger-program.ts';
import { createWriteBatch, lockBatch, refKey, type OutboxHandOff, type OutboxWrites, type StateWant } from './trigger-state-store.ts';
import { withTransientRetry } from './transient-retry.ts';

/**
 * The trigger evaluator: a consumer group over the event log. Each batch is applied in ONE
 * database transaction — window state, firings, action outbox rows, lifecycle events and the
 * consumer positions of the batch's partitions. The positions live in `consumer_positions`
 * and are read back (under a row lock) at the start of every batch, so records a previous
 * owner of the partition already applied are skipped: a crash, restart or rebalance neither
 * loses nor doubles a count or a firing. A batch in which nothing matches has nothing to apply:
 * it skips the transaction, and its positions are stored with a later batch (or after at most
 * `idlePositionsIntervalMs`).
 */
export interface TriggerEvaluatorOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger?: Logger;
  /** Consumer group (default "vigil-triggers"). */
  readonly group?: string;
  /** Events later than this behind their key's latest event time are reported, not counted (default 5 min). */
  readonly allowedLatenessMs?: number;
  readonly metrics?: Registry;
  /** A catalog to share (with the deadline timer); one is started otherwise. */
  readonly catalog?: AutomationCatalog;
  readonly maxBatchSize?: number;
  /**
   * A batch in which no event matches an automation writes nothing but its positions; those
   * are stored at most this often (default 1 s). Skipping them is safe — such records change no
   * state when read again — and bounds what a restart re-reads.
   */
  readonly idlePositionsIntervalMs?: number;
  /** Receives each committed batch's outbox rows (the relays of this process); without it they are relayed by polling. */
  readonly onCommitted?: OutboxHandOff;
  /** Clock (tests). */
  readonly now?: () => number;
}

export interface TriggerEvaluator {
  readonly catalog: AutomationCatalog;
  close(): Promise<void>;
}

export const defaultAllowedLatenessMs = 5 * 60_000;
export const defaultGroup = 'vigil-triggers';

/** A record of a batch and the automations (with their state routes) it matches. */
export interface Routed {
  readonly record: LogRecord;
  readonly matches: ReadonlyArray<{ program: TriggerProgram; route: Route }>;
}

/** Routes every record of a batch against the catalog snapshot. */
function routeBatch(batch: LogBatch, snapshot: CatalogSnapshot): Routed[] {
  return batch.records.map((record) => ({ record, matches: snapshot.route(record.event) }));
}

/**
 * Applies one batch in the given transaction. Exported for tests and benchmarks.
 *
 * A constant number of statements whatever the batch holds: ONE statement locks (creating if
 * needed) and reads the batch's consumer positions and its states (lockBatch; a second one only
 * when another transaction created a wanted state row meanwhile), then ONE statement writes
 * states, firings, outbox rows, lifecycle events and the new positions (see WriteBatch.flush).
 * Rows are locked in a fixed order (positions by partition, states by automation and key) so
 * replicas and the deadline timer do not deadlock on each other.
 */
export async function applyBatch(
  tx: Sql,
  group: string,
  batch: LogBatch,
  snapshot: CatalogSnapshot,
  options: {
    allowedLatenessMs: number;
    now: number;
    metrics: TriggerMetrics;
    /** The batch already routed against `snapshot` (routeBatch), when the caller has it: not routed again. */
    routed?: readonly Routed[];
  },
): Promise<{ applied: number; skipped: number; firings: number; outbox: OutboxWrites }> {
  const partitions = [...batch.nextPositions.keys()].sort((a, b) => a - b);
  // Routed before the stored positions are known, so that one statement can lock the positions
  // and the states together; records below the stored positions are then skipped. (Their states
  // are locked too, which is harmless: a record is below its position only after a crash or a
  // rebalance.)
  const routed = options.routed ?? routeBatch(batch, snapshot);
  const wants: StateWant[] = [];
  for (const r of routed) {
    if (r.matches.length === 0) continue;
    const t = Date.parse(r.record.event.occurred);
    const first = Number.isNaN(t) ? null : t;
    for (const { program, route } of r.matches) {
      wants.push({ program, stateKey: route.stateKey, forEach: route.forEach, initial: () => program.initialState(options.now, first) });
    }
  }
  const { refs, stored: from } = await lockBatch(tx, wants, { group, partitions });
  const isFresh = (r: Routed): boolean => r.record.offset >= (from.get(r.record.partition) ?? 0n);
  const fresh = routed.filter(isFresh);
  options.metrics.eventsMatched(fresh.reduce((sum, r) => sum + r.matches.length, 0));
  const writes = createWriteBatch(options.allowedLatenessMs);
  for (const r of fresh) {
    for (const { program, route } of r.matches) {
      const ref = refs.get(refKey(program.automation.name, route.stateKey))!;
      writes.apply(ref, program.onEvent(ref.state, r.record.event, route, options.now), options.now);
    }
  }

  const positions = partitions.map((p) => {
    const n = batch.nextPositions.get(p)!;
    const s = from.get(p) ?? 0n;
    return { partition: p, nextOffset: n > s ? n : s };
  });
  await writes.flush(tx, options.metrics, { group, positions });
  return { applied: fresh.length, skipped: batch.records.length - fresh.length, firings: writes.firings, outbox: writes.outboxWrites() };
}

/** Positions stored for the group, for the partitions just assigned. */
async function storedPositions(db: Database, group: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
  const rows = await db.query<{ partition: number; next_offset: bigint }>(
    'SELECT partition, next_offset FROM consumer_positions WHERE consumer_group = $1 AND partition = ANY($2::int[])',
    [group, [...partitions]],
  );
  return new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
}

export async function startTriggerEvaluator(options: TriggerEvaluatorOptions): Promise<TriggerEvaluator> {
  const { db, log } = options;
  const logger = options.logger ?? silentLogger;
  const group = options.group ?? defaultGroup;
  const allowedLatenessMs = options.allowedLatenessMs ?? defaultAllowedLatenessMs;
  const metrics = triggerMetrics(options.metrics);
  const now = options.now ?? Date.now;
  const ownCatalog = options.catalog === undefined;
  const catalog = options.catalog ?? (await startAutomationCatalog({ db, allowedLatenessMs, logger }));
  let closed = false;
  let subscription: Subscription | null = null;
  let restartTimer: NodeJS.Timeout | null = null;

  const idlePositionsIntervalMs = options.idlePositionsIntervalMs ?? 1_000;
  let positionsStoredAt = 0;
  const handle = async (batch: LogBatch): Promise<void> => {
    metrics.eventsConsumed(batch.records.length);
    const snapshot = catalog.current();
    // Most events match no automation (and the log carries Vigil's own lifecycle events): such a
    // batch costs no transaction, except to store the positions now and then.
    const routed = routeBatch(batch, snapshot);
    const matches = routed.some((r) => r.matches.length > 0);
    if (!matches && Date.now() - positionsStoredAt < idlePositionsIntervalMs) return;
    const { outbox } = await withTransientRetry(
      () => db.transaction((tx) => applyBatch(tx, group, batch, snapshot, { allowedLatenessMs, now: now(), metrics, routed })),
      { isClosed: () => closed, logger, what: 'trigger batch' },
    );
    positionsStoredAt = Date.now();
    if (outbox.actions.length > 0 || outbox.events.length > 0) options.onCommitted?.(outbox);
  };

  const subscribe = async (): Promise<void> => {
    subscription = await consumeGuarded(log, {
      db,
      logger,
      metrics: options.metrics,
      group,
      handle,
      maxBatchSize: options.maxBatchSize ?? 500,
      positions: (partitions) => withTransientRetry(() => storedPositions(db, group, partitions), { isClosed: () => closed, logger, what: 'read positions' }),
      onError: (error) => {
        if (closed) return;
        logger.error({ err: error }, 'trigger evaluator subscription stopped; resubscribing');
        subscription = null;
        restartTimer = setTimeout(() => {
          restartTimer = null;
          if (!closed) subscribe().catch((e: unknown) => logger.error({ err: e }, 'resubscribe failed'));
        }, 1_000);
      },
    });
  };
  await subscribe();

  return {
    catalog,
    async close() {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      await subscription?.close();
      if (ownCatalog) await catalog.close();
    },
  };
}
