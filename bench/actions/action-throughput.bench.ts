/**
 * Action execution through BullMQ to a local webhook receiver:
 *   1. queue → workers → receiver: call-webhook jobs enqueued directly, actions per second;
 *   2. outbox → relay → queue → workers → receiver: rows inserted as the trigger evaluator does
 *      (with NOTIFY), at a steady rate, latency from the insert to the request's arrival, and the
 *      throughput of a burst.
 * Needs PostgreSQL and Redis (scripts/services.sh).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { startActionWorkers } from '../../actions/action-worker.ts';
import { startOutboxRelay } from '../../actions/outbox-relay.ts';
import { retryPolicyForStored } from '../../actions/retry-policy.ts';
import { openBullmqActionQueue } from '../../platform/bullmq/bullmq-action-queue.ts';
import { migrate } from '../../platform/migrations/migrate.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import type { FiringContext } from '../../schemas/firing.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
const concurrency = Number(process.env.VIGIL_BENCH_ACTION_CONCURRENCY ?? 64);

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function context(index: number): FiringContext {
  const now = new Date().toISOString();
  return {
    automation: { name: `bench-${index % 1000}`, description: '', tags: [] },
    firing: { id: randomUUID(), state: 'triggered', triggered_at: now, for_each: {}, window: { start: now, end: now }, count: 1, events: [] },
    event: { id: randomUUID(), occurred: now, received: now, event: 'bench.tick', resource: { id: `bench.${index}` }, related: [], payload: { n: index } },
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const arrivals = new Map<string, number>();
  const receiver = createServer((request, response) => {
    const key = request.headers['idempotency-key'];
    request.resume();
    request.on('end', () => {
      if (typeof key === 'string' && !arrivals.has(key)) arrivals.set(key, performance.now());
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const name = `vigil_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(databaseUrl);
  dbUrl.pathname = `/${name}`;
  const db = createPostgresDatabase({ url: dbUrl.toString(), poolSize: 16 });
  await migrate(db);
  const queue = await openBullmqActionQueue({ redisUrl, prefix: `vigil-bench-${randomBytes(4).toString('hex')}`, queueName: 'actions' });
  const logger = pino({ level: 'silent' });
  const workers = await startActionWorkers({ db, queue, automations: createAutomationRepository(db), emit: () => Promise.resolve(), logger, concurrency, egress: { allowlist: ['127.0.0.1'] } });
  const action = { kind: 'call-webhook', url, body: { automation: '{{ automation.name }}', resource: '{{ event.resource.id }}' } };
  const figures: Record<string, number | string> = { worker_concurrency: concurrency };

  try {
    // 1. Direct enqueue → workers → receiver.
    const direct = 5_000;
    const jobs = Array.from({ length: direct }, (_, index) => {
      const id = randomUUID();
      return { id, data: { outbox_id: id, firing_id: randomUUID(), automation_name: `bench-${index % 1000}`, phase: 'triggered', action_index: 0, action, context: context(index) }, policy: retryPolicyForStored(action) };
    });
    const started = performance.now();
    for (let offset = 0; offset < jobs.length; offset += 500) await queue.enqueue(jobs.slice(offset, offset + 500));
    while (arrivals.size < direct) await sleep(5);
    const seconds = (performance.now() - started) / 1000;
    figures['queue → webhook: actions'] = direct;
    figures['queue → webhook: actions/s'] = Math.round(direct / seconds);

    // 2. Outbox (NOTIFY) → relay → queue → workers → receiver, steady rate: latency per action.
    const relay = await startOutboxRelay({ db, queue, logger });
    const rate = Number(process.env.VIGIL_BENCH_ACTION_RATE ?? 200);
    const durationS = 5;
    const insertedAt = new Map<string, number>();
    const insert = async (count: number, offset: number) => {
      const ids = Array.from({ length: count }, () => randomUUID());
      const stamp = performance.now();
      await db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context)
           SELECT id, gen_random_uuid(), 'bench', 'triggered', 0, $2::jsonb, $3::jsonb FROM unnest($1::uuid[]) AS id`,
          [ids, JSON.stringify(action), JSON.stringify(context(offset))],
        );
        await tx.query(`SELECT pg_notify($1, '')`, [notifyChannels.actionOutbox]);
      });
      for (const id of ids) insertedAt.set(id, stamp);
      return ids;
    };
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const steadyIds: string[] = [];
    const steadyStart = performance.now();
    for (let tick = 0; performance.now() - steadyStart < durationS * 1000; tick += 1) {
      steadyIds.push(...(await insert(perTick, tick)));
      const next = steadyStart + (tick + 1) * tickMs;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    while (steadyIds.some((id) => !arrivals.has(id))) await sleep(5);
    const latencies = steadyIds.map((id) => arrivals.get(id)! - insertedAt.get(id)!).sort((a, b) => a - b);
    figures['outbox → webhook: steady rate (actions/s)'] = Math.round(steadyIds.length / durationS);
    figures['outbox → webhook: latency p50 (ms)'] = Number(percentile(latencies, 50).toFixed(1));
    figures['outbox → webhook: latency p99 (ms)'] = Number(percentile(latencies, 99).toFixed(1));
    figures['outbox → webhook: latency max (ms)'] = Number(latencies.at(-1)!.toFixed(1));

    // 3. Outbox burst: throughput of relay + queue + workers together.
    const burst = 5_000;
    const burstStart = performance.now();
    const burstIds: string[] = [];
    for (let offset = 0; offset < burst; offset += 500) burstIds.push(...(await insert(500, offset)));
    while (burstIds.some((id) => !arrivals.has(id))) await sleep(5);
    figures['outbox → webhook burst: actions/s'] = Math.round(burst / ((performance.now() - burstStart) / 1000));
    await relay.close();
  } finally {
    await workers.close();
    await queue.close();
    await db.close();
    const cleanup = new pg.Client({ connectionString: databaseUrl });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await cleanup.end();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
  return figures;
}
