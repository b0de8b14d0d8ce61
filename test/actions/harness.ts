import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createActionRunsRepository, type ActionRun, type ActionRunStatus, type ActionRunsRepository } from '../../actions/action-runs.ts';
import { startActionWorkers, type ActionWorkers } from '../../actions/action-worker.ts';
import { createConnectionsRepository, type ConnectionsRepository } from '../../actions/connections.ts';
import { startOutboxRelay, type OutboxRelay } from '../../actions/outbox-relay.ts';
import { openBullmqActionQueue, type BullmqActionQueueOptions } from '../../platform/bullmq/bullmq-action-queue.ts';
import type { ActionQueue } from '../../platform/ports/action-queue.ts';
import type { ActionInput } from '../../schemas/action.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import type { FiringContext } from '../../schemas/firing.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
export const secretKey = randomBytes(32).toString('base64');
export const silentLogger = pino({ level: 'silent' });

/** Fast retries for tests. */
export const fastRetry = { attempts: 4, backoff: '100ms', max_backoff: '500ms', max_age: '1h', jitter: 0 } as const;

export function firingContext(overrides: { automation?: string; event?: Partial<VigilEvent> | null; firingId?: string; state?: 'triggered' | 'resolved' } = {}): FiringContext {
  const now = new Date().toISOString();
  const event: VigilEvent | null =
    overrides.event === null
      ? null
      : {
          id: randomUUID(),
          occurred: now,
          received: now,
          event: 'airflow.dag_run.failed',
          resource: { id: 'airflow.dag.sales_refresh', name: 'sales_refresh', env: 'prod' },
          related: [],
          payload: { duration_s: 812, owner: 'data-eng' },
          ...(overrides.event ?? {}),
        };
  return {
    automation: { name: overrides.automation ?? 'sales-sla', description: 'sales must land by 09:00', tags: ['sla'] },
    firing: {
      id: overrides.firingId ?? randomUUID(),
      state: overrides.state ?? 'triggered',
      triggered_at: now,
      deadline: now,
      for_each: { 'resource.id': 'airflow.dag.sales_refresh' },
      window: { start: now, end: now },
      count: 1,
      events: event ? [event] : [],
    },
    event,
  };
}

export interface ActionsHarness {
  readonly database: TestDatabase;
  readonly queue: ActionQueue;
  readonly prefix: string;
  readonly queueName: string;
  readonly connections: ConnectionsRepository;
  readonly runs: ActionRunsRepository;
  readonly emitted: VigilEvent[];
  readonly metrics: Registry;
  relay: OutboxRelay | undefined;
  workers: ActionWorkers | undefined;
  /** Inserts an outbox row (as the trigger evaluator does) and notifies the relay; returns its id. */
  fire(action: ActionInput, options?: { context?: FiringContext; phase?: 'triggered' | 'resolved'; firingId?: string; actionIndex?: number }): Promise<string>;
  waitForRun(id: string, status: ActionRunStatus, timeoutMs?: number): Promise<ActionRun>;
  startWorkers(options?: { concurrency?: number; allowlist?: readonly string[]; lookup?: (host: string) => Promise<readonly string[]> }): Promise<void>;
  close(): Promise<void>;
}

export async function startActionsHarness(
  options: { workers?: boolean; relay?: boolean; allowlist?: readonly string[]; queue?: Partial<BullmqActionQueueOptions> } = {},
): Promise<ActionsHarness> {
  const database = await createTestDatabase();
  const prefix = `vigil-test-${randomBytes(4).toString('hex')}`;
  const queue = await openBullmqActionQueue({
    redisUrl,
    prefix,
    queueName: 'actions',
    stalledIntervalMs: 1_000,
    lockDurationMs: 5_000,
    ...options.queue,
  });
  const emitted: VigilEvent[] = [];
  const metrics = new Registry();
  const harness: ActionsHarness = {
    database,
    queue,
    prefix,
    queueName: 'actions',
    connections: createConnectionsRepository(database.db, secretKey),
    runs: createActionRunsRepository(database.db, queue),
    emitted,
    metrics,
    relay: undefined,
    workers: undefined,
    async fire(action, fireOptions = {}) {
      const id = randomUUID();
      const context = fireOptions.context ?? firingContext(fireOptions.firingId ? { firingId: fireOptions.firingId } : {});
      await database.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [id, fireOptions.firingId ?? context.firing.id, context.automation.name, fireOptions.phase ?? 'triggered', fireOptions.actionIndex ?? 0, JSON.stringify(action), JSON.stringify(context)],
        );
        await tx.query(`SELECT pg_notify($1, '')`, [notifyChannels.actionOutbox]);
      });
      return id;
    },
    async waitForRun(id, status, timeoutMs = 30_000) {
      return waitFor(`action run ${id} to be ${status}`, async () => {
        const run = await harness.runs.get(id);
        return run?.status === status ? run : undefined;
      }, timeoutMs);
    },
    async startWorkers(workerOptions = {}) {
      harness.workers = await startActionWorkers({
        db: database.db,
        automations: createAutomationRepository(database.db),
        queue,
        emit: (events) => {
          emitted.push(...events);
          return Promise.resolve();
        },
        logger: silentLogger,
        concurrency: workerOptions.concurrency ?? 4,
        secretKey,
        egress: { allowlist: workerOptions.allowlist ?? options.allowlist ?? ['127.0.0.1'], ...(workerOptions.lookup ? { lookup: workerOptions.lookup } : {}) },
        metrics,
      });
    },
    async close() {
      await harness.relay?.close();
      await harness.workers?.close();
      await queue.close();
      await database.drop();
    },
  };
  if (options.relay !== false) harness.relay = await startOutboxRelay({ db: database.db, queue, logger: silentLogger, pollIntervalMs: 200 });
  if (options.workers !== false) await harness.startWorkers();
  return harness;
}

/**
 * Starts `fixtures/action-worker-process.ts` as a child process on the harness's database and
 * queue (a worker that can be SIGKILLed mid-action), and waits until it says it is ready.
 */
export async function startWorkerProcess(harness: ActionsHarness, lockMs: number, children: ChildProcess[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'action-worker-process.ts')], {
    env: {
      ...process.env,
      VIGIL_TEST_DATABASE_URL: harness.database.url,
      REDIS_URL: redisUrl,
      VIGIL_TEST_PREFIX: harness.prefix,
      VIGIL_TEST_QUEUE: harness.queueName,
      VIGIL_TEST_LOCK_MS: String(lockMs),
      VIGIL_SECRET_KEY: secretKey,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor('worker process ready', () => output.includes('ready') || child.exitCode !== null, 30_000);
  assert.equal(child.exitCode, null, 'worker process started');
  return child;
}
