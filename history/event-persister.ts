import type { Registry } from 'prom-client';
import { consumeGuarded } from '../platform/consumers/guarded-consumer.ts';
import type { Logger } from '../platform/logger.ts';
import type { Database } from '../platform/ports/database.ts';
import type { EventLog, Subscription } from '../platform/ports/event-log.ts';
import { createEventHistory } from './event-history.ts';

export interface EventPersisterOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger: Logger;
  /** Days of history kept; older partitions are dropped by the cleanup job. */
  readonly retentionDays: number;
  readonly group?: string;
  /** How often partitions are created ahead and retention applied (default hourly). */
  readonly maintenanceIntervalMs?: number;
  /** The process's metrics registry: dead letters and the consumer's lag are reported through it. */
  readonly metrics?: Registry;
}

/** Days of partitions created ahead of today, so a day's rows never land in the default partition. */
const daysAhead = 3;

/**
 * The persister consumer group: copies every event of the log into the event history table
 * (at least once; redeliveries are skipped by the table's key), and keeps the table's daily
 * partitions and retention. A record the table refuses goes to dead_letters instead of
 * stopping the copy (platform/consumers/guarded-consumer.ts).
 */
export async function startEventPersister(options: EventPersisterOptions): Promise<{ close(): Promise<void> }> {
  const history = createEventHistory(options.db);
  const logger = options.logger.child({ component: 'event-persister' });

  async function maintain(): Promise<void> {
    const now = new Date();
    await history.ensurePartitions(now, daysAhead);
    const dropped = await history.dropBefore(new Date(now.getTime() - options.retentionDays * 86_400_000));
    if (dropped.length > 0) logger.info({ dropped }, 'event history retention: dropped old partitions');
  }

  await maintain();
  const timer = setInterval(() => {
    maintain().catch((error: unknown) => logger.error({ err: error }, 'event history maintenance failed'));
  }, options.maintenanceIntervalMs ?? 3_600_000);
  timer.unref();

  let subscription: Subscription | undefined;
  let closed = false;
  const subscribe = async (): Promise<void> => {
    subscription = await consumeGuarded(options.log, {
      db: options.db,
      logger,
      metrics: options.metrics,
      group: options.group ?? 'vigil-persister',
      maxBatchSize: 1_000,
      // The history is read by people and dry runs, not by the action path: fewer, larger inserts.
      gatherMs: 200,
      handle: (batch) => history.write(options.db, batch.records.map((record) => record.event)),
      onError: (error) => {
        if (closed) return;
        logger.error({ err: error }, 'event persister stopped; resubscribing in 5 s');
        setTimeout(() => {
          if (closed) return;
          subscribe().catch((retryError: unknown) => logger.error({ err: retryError }, 'event persister could not resubscribe'));
        }, 5_000).unref();
      },
    });
  };
  await subscribe();

  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await subscription?.close();
    },
  };
}
