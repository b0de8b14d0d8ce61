/**
 * Ingest throughput: batched HTTP → Kafka (acks=all) for batch sizes 1, 100 and 1,000, beside
 * the raw producer throughput of the same client on the same broker. The server runs as its
 * own `vigil start --role ingest` process so that the load generator does not share its event
 * loop. Target (DESIGN §8): ≥ 50,000 events/s sustained for batched ingest.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { waitFor } from '../../test/support/wait-for.ts';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';
const secondsPerCase = Number(process.env.BENCH_SECONDS ?? 10);

function sampleEvent(index: number): Record<string, unknown> {
  return {
    event: 'airflow.task_instance.success',
    resource: { id: `airflow.dag.dag_${index % 200}`, env: 'prod', team: 'data' },
    payload: { duration_s: index % 900, try_number: 1 },
  };
}

async function httpThroughput(url: string, key: string, batchSize: number, concurrency: number): Promise<number> {
  const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
  const body = JSON.stringify(batchSize === 1 ? sampleEvent(0) : Array.from({ length: batchSize }, (_, index) => sampleEvent(index)));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  let accepted = 0;
  let failed = 0;
  const deadline = performance.now() + secondsPerCase * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const response = await request(`${url}/api/events`, { method: 'POST', headers, body, dispatcher });
        const result = (await response.body.json()) as { accepted?: number };
        if (response.statusCode === 202) accepted += result.accepted ?? 0;
        else failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  if (failed > 0) throw new Error(`${failed} requests failed during the ingest benchmark`);
  return accepted / seconds;
}

async function rawProducerThroughput(topic: string): Promise<number> {
  const log = await createKafkaEventLog({ brokers, topic, partitions: 6, clientId: 'vigil-bench-raw' });
  const received = new Date().toISOString();
  const batch: VigilEvent[] = Array.from({ length: 1000 }, (_, index) => ({
    id: `raw-${index}`,
    occurred: received,
    received,
    event: 'airflow.task_instance.success',
    resource: { id: `airflow.dag.dag_${index % 200}`, env: 'prod', team: 'data' },
    related: [],
    payload: { duration_s: index % 900, try_number: 1 },
  }));
  let appended = 0;
  const deadline = performance.now() + secondsPerCase * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < deadline) {
        await log.append(batch);
        appended += batch.length;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  return appended / seconds;
}

export async function run(): Promise<Record<string, number | string>> {
  const topic = `vigil.bench.ingest.${randomBytes(4).toString('hex')}`;
  const key = `bench-admin-${randomBytes(16).toString('hex')}`;
  const port = 7790;
  const server = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', new URL('../../cli/main.ts', import.meta.url).pathname, 'start', '--role', 'ingest'], {
    env: {
      ...process.env,
      VIGIL_PORT: String(port),
      VIGIL_ADMIN_KEY: key,
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_KAFKA_TOPIC: topic,
      VIGIL_KAFKA_PARTITIONS: '6',
      VIGIL_RATE_LIMIT_PER_MINUTE: '100000000',
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      REDIS_URL: redisUrl,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('the ingest server', async () => (await fetch(`${url}/readyz`)).ok, 60_000, 200);
    await httpThroughput(url, key, 100, 4); // warm-up
    const figures: Record<string, number | string> = {
      'http batch=1 (events/s, 32 connections)': Math.round(await httpThroughput(url, key, 1, 32)),
      'http batch=100 (events/s, 8 connections)': Math.round(await httpThroughput(url, key, 100, 8)),
      'http batch=1000 (events/s, 4 connections)': Math.round(await httpThroughput(url, key, 1000, 4)),
      'raw producer, 1000/append, 4 in flight (events/s)': Math.round(await rawProducerThroughput(`${topic}.raw`)),
      'seconds per case': secondsPerCase,
    };
    return figures;
  } finally {
    server.kill('SIGTERM');
  }
}
