/**
 * End-to-end latency from `POST /api/events` to the webhook arriving, through every stage of the
 * distributed pipeline: intake → Kafka → trigger evaluator (Postgres transaction, outbox) →
 * relay → BullMQ → action worker → HTTP receiver. 1,000 automations, events at a steady rate.
 * An event either fires one automation (one webhook) or matches none; the latency is that of
 * the firing ones. Three scenarios by default (see `scenarios`), or the one that BENCH_RATE and
 * BENCH_FIRING_EVERY=N (every N-th event fires) describe. Vigil runs as its own
 * `vigil start` process. Steady state: BENCH_WARMUP_SECONDS (default 5) at the same rate and mix
 * run first and are not measured. The load generator and the receiver are lean HTTP/1.1
 * (bench/support/lean-http.ts) so that they take little of the CPU Vigil shares with them.
 * Target (DESIGN §8): p50 ≤ 20 ms, p99 ≤ 100 ms at 1,000 events/s.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Admin } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { LeanHttpClient, startLeanReceiver } from '../support/lean-http.ts';
import { deleteTopic } from '../../platform/kafka/kafka-topic.ts';
import { migrate } from '../../platform/migrations/migrate.ts';
import type { Database } from '../../platform/ports/database.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { waitFor } from '../../test/support/wait-for.ts';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
const automations = Number(process.env.BENCH_AUTOMATIONS ?? 1_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

interface Scenario {
  readonly ratePerSecond: number;
  /** Every N-th event fires a webhook; the others match no automation. */
  readonly firingEvery: number;
}

/**
 * BENCH_RATE and/or BENCH_FIRING_EVERY run that one scenario. By default three: the target's
 * 1,000 events/s with every 10th event firing (100 webhooks/s) and with every event firing
 * (1,000 webhooks/s), and every event firing at 200 events/s.
 */
function scenarios(): Scenario[] {
  if (process.env.BENCH_RATE || process.env.BENCH_FIRING_EVERY) {
    return [{ ratePerSecond: Number(process.env.BENCH_RATE ?? 1_000), firingEvery: Math.max(1, Number(process.env.BENCH_FIRING_EVERY ?? 1)) }];
  }
  return [
    { ratePerSecond: 1_000, firingEvery: 10 },
    { ratePerSecond: 1_000, firingEvery: 1 },
    { ratePerSecond: 200, firingEvery: 1 },
  ];
}

export async function run(): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  for (const scenario of scenarios()) {
    const label = `${scenario.ratePerSecond.toLocaleString('en-US')}/s, ${scenario.firingEvery === 1 ? 'every event fires' : `every ${scenario.firingEvery}th fires`}`;
    for (const [key, value] of Object.entries(await runScenario(scenario))) figures[`${label} · ${key}`] = value;
  }
  return figures;
}
const connections = Number(process.env.BENCH_CONNECTIONS ?? 128);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Medians (ms) of each stage of the measured runs, from the timestamps Vigil records: intake
 * `received` → firing row (the evaluator's transaction) → relayed to the queue → the worker's
 * start record → its success record.
 */
async function stageMedians(db: Database, since: string): Promise<Record<string, number>> {
  const [row] = await db.query<Record<string, number>>(
      `WITH s AS (
         SELECT (o.context->'event'->>'received')::timestamptz AS received, f.created_at AS fired, o.relayed_at,
                r.first_started_at AS started, r.finished_at AS finished
           FROM action_outbox o JOIN firings f ON f.id = o.firing_id JOIN action_runs r ON r.id = o.id
          WHERE (o.context->'event'->>'received')::timestamptz >= $1::timestamptz)
       SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM fired - received) * 1000) AS "event → firing",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM relayed_at - fired) * 1000) AS "firing → queued",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started - relayed_at) * 1000) AS "queued → worker start",
              percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished - started) * 1000) AS "worker start → success recorded"
         FROM s`,
      [since],
    );
  return Object.fromEntries(Object.entries(row ?? {}).map(([stage, ms]) => [`median ${stage} (ms)`, Math.round(Number(ms) * 10) / 10]));
}

/** Removes what a run created (BENCH_KEEP=1 keeps the database and topic for a closer look). */
async function cleanUp(databaseUrl: string, dbName: string, topic: string): Promise<void> {
  if (process.env.BENCH_KEEP) return;
  const admin = new Admin({ clientId: 'vigil-bench', bootstrapBrokers: brokers.split(',') });
  try {
    await deleteTopic(admin, topic);
  } finally {
    await admin.close();
  }
  const adminDb = createPostgresDatabase({ url: databaseUrl, poolSize: 1 });
  try {
    await adminDb.query(`DROP DATABASE IF EXISTS ${dbName}`);
  } finally {
    await adminDb.close();
  }
}

/** Drops this run's BullMQ keys, so runs do not pile up in the developer's Redis. */
async function removeQueueKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function runScenario({ ratePerSecond, firingEvery }: Scenario): Promise<Record<string, number | string>> {
  const tag = randomBytes(4).toString('hex');
  const arrivals = new Map<string, number>();
  const receiver = await startLeanReceiver((requestLine, body) => {
    if (!requestLine.startsWith('POST /hook ')) throw new Error(`unexpected webhook request: ${requestLine}`);
    const { id } = JSON.parse(body.toString('utf8')) as { id: string };
    if (!arrivals.has(id)) arrivals.set(id, performance.timeOrigin + performance.now());
  });
  const hookUrl = `http://127.0.0.1:${receiver.port}/hook`;

  // A database of its own, with the automations in place before Vigil starts.
  const adminDb = createPostgresDatabase({ url: databaseUrl, poolSize: 1 });
  const dbName = `vigil_bench_${tag}`;
  await adminDb.query(`CREATE DATABASE ${dbName}`);
  await adminDb.close();
  const url = new URL(databaseUrl);
  url.pathname = `/${dbName}`;
  const db = createPostgresDatabase({ url: url.toString(), poolSize: 4 });
  await migrate(db);
  const repository = createAutomationRepository(db);
  for (let index = 0; index < automations; index++) {
    const result = await repository.upsert({
      name: `bench-${index}`,
      trigger: { type: 'event', expect: [`bench.e2e.n${index}`] },
      actions: [{ kind: 'call-webhook', url: hookUrl, body: { id: '{{ event.id }}' }, retry: { attempts: 3, backoff: '100ms' } }],
    });
    if (!result.ok) throw new Error(`automation rejected: ${JSON.stringify(result.errors)}`);
  }

  const key = `bench-admin-${randomBytes(16).toString('hex')}`;
  const port = 7792;
  const env = {
    ...process.env,
    VIGIL_PORT: String(port),
    VIGIL_ADMIN_KEY: key,
    VIGIL_LOG_LEVEL: process.env.VIGIL_LOG_LEVEL ?? 'warn',
    VIGIL_KAFKA_TOPIC: `vigil.bench.e2e.${tag}`,
    VIGIL_RATE_LIMIT_PER_MINUTE: '100000000',
    VIGIL_EGRESS_ALLOWLIST: '127.0.0.1',
    VIGIL_REDIS_PREFIX: `vigil-bench-${tag}`,
    DATABASE_URL: url.toString(),
    KAFKA_BROKERS: brokers,
    REDIS_URL: redisUrl,
  };
  // BENCH_PROCESSES: the roles of each Vigil process, `|` between processes (default one process
  // with every role; e.g. "ingest,api|triggers,actions" puts the HTTP side on a process of its own).
  const roleSets = (process.env.BENCH_PROCESSES ?? 'ingest,api,triggers,actions').split('|').map((roles) => roles.trim());
  const processes = roleSets.map((roles) =>
    spawn(process.execPath, ['--disable-warning=ExperimentalWarning', new URL('../../cli/main.ts', import.meta.url).pathname, 'start', '--role', roles], {
      env: roles.includes('ingest') ? env : { ...env, VIGIL_PORT: String(port + 1) },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const client = new LeanHttpClient('127.0.0.1', port, connections);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const sentAt = new Map<string, number>();
  let expectedWebhooks = 0;
  /** Sends event `index`; a firing one is expected at the receiver, and timed when `measure` is set. */
  const send = async (index: number, fires: boolean, measure: boolean) => {
    const id = `e2e-${tag}-${index}`;
    const body = JSON.stringify({ id, event: fires ? `bench.e2e.n${index % automations}` : 'bench.e2e.quiet', resource: { id: `bench.resource.${index % 97}` } });
    if (fires) expectedWebhooks += 1;
    if (fires && measure) sentAt.set(id, performance.timeOrigin + performance.now());
    const response = await client.request('POST', '/api/events', headers, body);
    if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${response.body.toString('utf8')}`);
  };
  let nextIndex = 0;
  /** Offers `count` events at the benchmark's rate and mix; resolves when every one was accepted. */
  const offer = async (count: number, measure: boolean) => {
    const started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let sent = 0; sent < count; sent++) {
      const wait = started + (sent * 1000) / ratePerSecond - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const sending = send(nextIndex++, sent % firingEvery === 0, measure);
      sending.catch(() => undefined); // reported by Promise.all below, not as an unhandled rejection meanwhile
      inFlight.push(sending);
    }
    await Promise.all(inFlight);
  };
  try {
    await waitFor('vigil to be ready', async () => (await fetch(`${base}/readyz`)).ok, 60_000, 200);
    // Warm-up, not measured: 50 events one by one (the consumer groups join and every stage has
    // run once), then BENCH_WARMUP_SECONDS at the measured rate and mix (V8 optimises the hot
    // paths, pools and buffers grow; without it the first ~2 s at 1,000 events/s are 3–5 × slower).
    for (let index = 0; index < 50; index++) await send(nextIndex++, true, false);
    await waitFor('the first warm-up webhooks', () => arrivals.size >= expectedWebhooks, 60_000);
    await offer(Math.round(ratePerSecond * warmupSeconds), false);

    const total = ratePerSecond * seconds;
    const measuredSince = new Date().toISOString();
    await offer(total, true);
    const firing = sentAt.size;
    await waitFor(`all ${expectedWebhooks} webhooks`, () => arrivals.size >= expectedWebhooks, 120_000, 100);
    const measured = [...sentAt.entries()].map(([id, sent]) => ({ sent, latency: arrivals.get(id)! - sent }));
    if (process.env.BENCH_DUMP) await writeFile(process.env.BENCH_DUMP, measured.map((m) => `${Math.round(m.sent)}\t${m.latency.toFixed(1)}`).join('\n'));
    const latencies = measured.map((m) => m.latency).sort((a, b) => a - b);
    await waitFor('the last success records', async () => {
      const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM action_runs WHERE status = 'succeeded'`);
      return (row?.n ?? 0) >= expectedWebhooks;
    }, 30_000, 100);
    const stages = await stageMedians(db, measuredSince);
    return {
      automations,
      events: total,
      'events that fire a webhook': firing,
      'latency p50 (ms)': Math.round(percentile(latencies, 50) * 10) / 10,
      'latency p90 (ms)': Math.round(percentile(latencies, 90) * 10) / 10,
      'latency p99 (ms)': Math.round(percentile(latencies, 99) * 10) / 10,
      'latency max (ms)': Math.round((latencies.at(-1) ?? Number.NaN) * 10) / 10,
      'webhooks received (warm-up included)': arrivals.size,
      'warm-up at the measured rate (s)': warmupSeconds,
      'load generator connections': connections,
      processes: roleSets.join(' | '),
      ...stages,
    };
  } finally {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(processes.map((child) => new Promise((resolve) => child.once('exit', resolve))));
    client.close();
    await receiver.close();
    await db.close();
    await removeQueueKeys(redisUrl, env.VIGIL_REDIS_PREFIX);
    await cleanUp(databaseUrl, dbName, env.VIGIL_KAFKA_TOPIC);
  }
}
