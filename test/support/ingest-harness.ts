import { randomBytes } from 'node:crypto';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics, type Metrics } from '../../platform/metrics.ts';
import type { EventLog, LogRecord } from '../../platform/ports/event-log.ts';
import { startApiRole } from '../../cli/start/api-role.ts';
import { kafkaBrokers } from './kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';
import { waitFor } from './wait-for.ts';


export interface IngestHarness {
  readonly url: string;
  readonly adminKey: string;
  readonly log: EventLog;
  readonly database: TestDatabase;
  readonly metrics: Metrics;
  /** POST with the admin key unless `authorization` is given (null: no header). */
  post(path: string, body: string | Buffer, headers?: Record<string, string>, authorization?: string | null): Promise<Response>;
  /** Consumes the topic from the start with a fresh group until `count` records arrived (and a little longer, to catch extras). */
  readAll(count: number): Promise<LogRecord[]>;
  close(): Promise<void>;
}

/** The HTTP intake over a real Kafka topic and a real PostgreSQL database of its own. */
export async function startIngestHarness(options: { rateLimitPerMinute?: number } = {}): Promise<IngestHarness> {
  const database = await createTestDatabase();
  const topic = `vigil.test.ingest.${randomBytes(4).toString('hex')}`;
  const log = await createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions: 3, clientId: 'vigil-test', requestTimeoutMs: 3_000 });
  const metrics = createMetrics();
  const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
  const api = await startApiRole({
    db: database.db,
    log,
    logger: createLogger('silent'),
    metrics,
    adminKey,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 100_000,
    host: '127.0.0.1',
    port: 0,
  });

  return {
    url: api.url,
    adminKey,
    log,
    database,
    metrics,
    post(path, body, headers = { 'content-type': 'application/json' }, authorization) {
      const auth = authorization === undefined ? `Bearer ${adminKey}` : authorization;
      return fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { ...headers, ...(auth === null ? {} : { authorization: auth }) },
        body,
      });
    },
    async readAll(count) {
      const records: LogRecord[] = [];
      const subscription = await log.consume({
        group: `vigil-test-reader-${randomBytes(4).toString('hex')}`,
        handle: (batch) => {
          records.push(...batch.records);
          return Promise.resolve();
        },
      });
      try {
        await waitFor(`${count} records in the log`, () => records.length >= count, 60_000);
        // Linger briefly so that a duplicate or an extra record would be seen too.
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        await subscription.close();
      }
      return records;
    },
    async close() {
      await api.close();
      await log.close();
      await database.drop();
    },
  };
}

export function json(value: unknown): string {
  return JSON.stringify(value);
}
