import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createActionRunsRepository, type ActionRunsRepository } from '../../actions/action-runs.ts';
import { startActionWorkers, type ActionWorkers } from '../../actions/action-worker.ts';
import { createConnectionsRepository, type ConnectionsRepository } from '../../actions/connections.ts';
import { startOutboxRelay, type OutboxRelay } from '../../actions/outbox-relay.ts';
import { createApiKeys } from '../../api/api-keys.ts';
import { openBullmqActionQueue } from '../../platform/bullmq/bullmq-action-queue.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { ActionQueue } from '../../platform/ports/action-queue.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import { startApiRole, type RunningApi } from '../../cli/start/api-role.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { redisUrl } from './harness.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';

/*
 * The real HTTP app (startApiRole) over a database of its own on the test PostgreSQL and, when
 * asked, a BullMQ queue on the test Redis under a unique prefix, with the outbox relay and the
 * action workers running. Every log line (API and workers, at debug level, without the
 * production logger's redaction) and every response body is kept, so tests can assert that no
 * secret ever reaches one. The event log is a stand-in: these routes never touch it.
 */

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body (undefined when empty or not JSON). */
  readonly body: unknown;
}

export interface RequestOptions {
  readonly body?: string | Buffer | object;
  /** API key secret; default the admin key; null sends no Authorization header. */
  readonly key?: string | null;
  /** Content-Type of the body (default application/json). */
  readonly contentType?: string | null;
}

export interface ActionsApiHarness {
  readonly url: string;
  readonly adminKey: string;
  readonly readKey: string;
  readonly writeKey: string;
  readonly database: TestDatabase;
  readonly queue: ActionQueue | undefined;
  /** The queue's Redis key prefix (queue name `actions`). */
  readonly queuePrefix: string | undefined;
  /** Repositories on the same database, for arranging and checking state behind the API. */
  readonly connections: ConnectionsRepository;
  readonly runs: ActionRunsRepository | undefined;
  /** Every log line written so far (API and workers). */
  readonly logLines: string[];
  /** Every response body received so far. */
  readonly responses: string[];
  readonly emitted: VigilEvent[];
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  close(): Promise<void>;
}

export interface ActionsApiHarnessOptions {
  /** VIGIL_SECRET_KEY for the API and the workers; undefined runs without one. */
  readonly secretKey: string | undefined;
  /** Open a BullMQ queue (and mount the action runs routes). Default true. */
  readonly queue?: boolean;
  /** Run the outbox relay and action workers on that queue. Default true when there is a queue. */
  readonly pipeline?: boolean;
}

function capturingLogger(lines: string[]): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

/** An event log stand-in: the action runs and connections routes never use it. */
export const unusedEventLog: EventLog = {
  partitions: 1,
  append: () => Promise.reject(new Error('the event log is not part of this test')),
  consume: () => Promise.reject(new Error('the event log is not part of this test')),
  readSince: () => ({
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('the event log is not part of this test')) }),
  }),
  endPositions: () => Promise.reject(new Error('the event log is not part of this test')),
  check: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

export async function startActionsApiHarness(options: ActionsApiHarnessOptions): Promise<ActionsApiHarness> {
  const database = await createTestDatabase();
  const logLines: string[] = [];
  const responses: string[] = [];
  const emitted: VigilEvent[] = [];
  const logger = capturingLogger(logLines);
  const queuePrefix = (options.queue ?? true) ? `vigil-test-api-${randomBytes(4).toString('hex')}` : undefined;
  const queue = queuePrefix
    ? await openBullmqActionQueue({
        redisUrl,
        prefix: queuePrefix,
        queueName: 'actions',
        stalledIntervalMs: 1_000,
        lockDurationMs: 5_000,
      })
    : undefined;

  let relay: OutboxRelay | undefined;
  let workers: ActionWorkers | undefined;
  if (queue && (options.pipeline ?? true)) {
    relay = await startOutboxRelay({ db: database.db, queue, logger, pollIntervalMs: 200 });
    workers = await startActionWorkers({
      db: database.db,
      automations: createAutomationRepository(database.db),
      queue,
      emit: (events) => {
        emitted.push(...events);
        return Promise.resolve();
      },
      logger,
      concurrency: 4,
      ...(options.secretKey ? { secretKey: options.secretKey } : {}),
      egress: { allowlist: ['127.0.0.1'] },
    });
  }

  const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
  const keys = createApiKeys(database.db);
  const readKey = (await keys.create('reader', ['read'])).secret;
  const writeKey = (await keys.create('sender', ['events:write'])).secret;
  let api: RunningApi;
  try {
    api = await startApiRole({
      db: database.db,
      log: unusedEventLog,
      logger,
      metrics: createMetrics(),
      adminKey,
      rateLimitPerMinute: 100_000,
      host: '127.0.0.1',
      port: 0,
      queue,
      secretKey: options.secretKey,
      egress: { allowlist: ['127.0.0.1'] },
    });
  } catch (error) {
    await relay?.close();
    await workers?.close();
    await queue?.close();
    await database.drop();
    throw error;
  }

  return {
    url: api.url,
    adminKey,
    readKey,
    writeKey,
    database,
    queue,
    queuePrefix,
    connections: createConnectionsRepository(database.db, options.secretKey),
    runs: queue ? createActionRunsRepository(database.db, queue) : undefined,
    logLines,
    responses,
    emitted,
    async request(method, path, requestOptions = {}) {
      const key = requestOptions.key === undefined ? adminKey : requestOptions.key;
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | Buffer | undefined;
      if (requestOptions.body !== undefined) {
        body = typeof requestOptions.body === 'string' || Buffer.isBuffer(requestOptions.body) ? requestOptions.body : JSON.stringify(requestOptions.body);
        const contentType = requestOptions.contentType === undefined ? 'application/json' : requestOptions.contentType;
        if (contentType !== null) headers['content-type'] = contentType;
      }
      const response = await fetch(`${api.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      responses.push(text);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
    async close() {
      await api.close();
      await relay?.close();
      await workers?.close();
      await queue?.close();
      await database.drop();
    },
  };
}
