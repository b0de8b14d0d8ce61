import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../../platform/config.ts';
import type { Logger } from '../../platform/logger.ts';
import { migrate } from '../../platform/migrations/migrate.ts';
import type { ActionQueue } from '../../platform/ports/action-queue.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';

/**
 * The adapters behind the ports, chosen by configuration: embedded (no services) or distributed.
 * Each mode's adapters are imported only when that mode runs: the other mode's libraries (Kafka,
 * BullMQ, pg — or PGlite) cost start-up time and memory for nothing.
 */
export interface Infrastructure {
  readonly mode: Config['mode'];
  readonly db: Database;
  readonly log: EventLog;
  readonly queue: ActionQueue;
  close(): Promise<void>;
}

/** Opens the store (and migrates it) and the event log for the configured mode. */
export async function openInfrastructure(config: Config, logger: Logger): Promise<Infrastructure> {
  const { db, applied } = await openMigratedDatabase(config);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  const log = await openEventLog(config, db, logger);
  const queue = await openActionQueue(config, db, logger);
  return {
    mode: config.mode,
    db,
    log,
    queue,
    async close() {
      await queue.close();
      await log.close();
      await db.close();
    },
  };
}

/** Opens the configured store and applies pending migrations; `applied` names them. */
export async function openMigratedDatabase(config: Config): Promise<{ db: Database; applied: string[] }> {
  const db = await openDatabase(config);
  try {
    return { db, applied: await migrate(db) };
  } catch (error) {
    await db.close();
    throw error;
  }
}

async function openDatabase(config: Config): Promise<Database> {
  if (config.mode === 'distributed') {
    const { createPostgresDatabase } = await import('../../platform/postgres/postgres-database.ts');
    return createPostgresDatabase({
      url: config.DATABASE_URL!,
      applicationName: 'vigil',
      poolSize: config.VIGIL_DATABASE_POOL_SIZE,
      statementTimeoutMs: config.VIGIL_DATABASE_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: config.VIGIL_DATABASE_LOCK_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.VIGIL_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    });
  }
  const { openPgliteDatabase } = await import('../../platform/embedded/pglite-database.ts');
  const dataDir = resolve(config.VIGIL_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  return openPgliteDatabase({ dataDir: join(dataDir, 'store') });
}

async function openEventLog(config: Config, db: Database, logger: Logger): Promise<EventLog> {
  if (config.mode === 'distributed') {
    const { createKafkaEventLog } = await import('../../platform/kafka/kafka-event-log.ts');
    return createKafkaEventLog({
      brokers: config.KAFKA_BROKERS!,
      topic: config.VIGIL_KAFKA_TOPIC,
      partitions: config.VIGIL_KAFKA_PARTITIONS,
      clientId: 'vigil',
      requestTimeoutMs: config.VIGIL_APPEND_TIMEOUT_MS,
      lingerMs: config.VIGIL_KAFKA_LINGER_MS,
      logger: logger.child({ component: 'kafka' }),
    });
  }
  const { createTableEventLog } = await import('../../platform/embedded/table-event-log.ts');
  // Embedded: the log is a table of the same PGlite store (docs/decisions/0301); its partition
  // count is fixed when the log is created, like a Kafka topic's.
  return createTableEventLog({
    db,
    partitions: config.VIGIL_KAFKA_PARTITIONS,
    appendTimeoutMs: config.VIGIL_APPEND_TIMEOUT_MS,
  });
}

async function openActionQueue(config: Config, db: Database, logger: Logger): Promise<ActionQueue> {
  if (config.mode === 'distributed') {
    const { openBullmqActionQueue } = await import('../../platform/bullmq/bullmq-action-queue.ts');
    const queueLogger = logger.child({ component: 'bullmq' });
    return openBullmqActionQueue({ redisUrl: config.REDIS_URL!, prefix: config.VIGIL_REDIS_PREFIX, onError: (error) => queueLogger.warn({ err: error }, 'action queue connection problem') });
  }
  const { createTableActionQueue } = await import('../../platform/embedded/table-action-queue.ts');
  return createTableActionQueue({ db });
}
