/**
 * Embedded event log (PGlite table): append throughput (batches of 1 and of 100 events, each
 * append a committed transaction), consume throughput, resident memory after 22,000 events.
 * Runs on a fresh store directory with the tuned settings, in a child process with the Node.js
 * flags of `vigil start` (so that its memory figures are the log's alone).
 *
 *   node bench/embedded/table-event-log.bench.ts      or      node bench/run.ts embedded
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { embeddedNodeFlags } from '../../platform/embedded/node-flags.ts';
import { openPgliteDatabase } from '../../platform/embedded/pglite-database.ts';
import { createTableEventLog } from '../../platform/embedded/table-event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';

function peakRssMb(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? Number.NaN : Math.round(Number(match[1]) / 102.4) / 10;
}

function rssMb(): number {
  return Math.round(process.memoryUsage.rss() / 104_857.6) / 10;
}

function makeEvent(i: number): VigilEvent {
  const now = new Date().toISOString();
  return {
    id: `bench-${i}-${Math.random().toString(36).slice(2, 10)}`,
    occurred: now,
    received: now,
    event: 'airflow.dag_run.success',
    resource: { id: `airflow.dag.sales_refresh_${i % 500}`, name: `sales_refresh_${i % 500}`, env: 'prod' },
    related: [{ id: 'airflow.pool.default', role: 'pool' }],
    payload: { duration_s: i % 900, run_id: `scheduled__2026-11-22T08:00:00+00:00_${i}`, try_number: 1 },
  };
}

async function measure(): Promise<Record<string, number | string>> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-log-'));
  try {
    let started = performance.now();
    const db = await openPgliteDatabase({ dataDir: join(dir, 'store') });
    const openFreshMs = Math.round(performance.now() - started);
    const log = await createTableEventLog({ db, partitions: 4 });
    const rssAfterOpen = rssMb();

    let n = 0;
    const single = 2_000;
    started = performance.now();
    for (let i = 0; i < single; i += 1) await log.append([makeEvent(n++)]);
    const singlePerS = Math.round(single / ((performance.now() - started) / 1000));

    const batched = 10_000;
    started = performance.now();
    for (let i = 0; i < batched; i += 100) await log.append(Array.from({ length: 100 }, () => makeEvent(n++)));
    const batchPerS = Math.round(batched / ((performance.now() - started) / 1000));

    const concurrent = 10_000;
    started = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < concurrent; i += 50) inFlight.push(log.append(Array.from({ length: 50 }, () => makeEvent(n++))));
    await Promise.all(inFlight);
    const concurrentPerS = Math.round(concurrent / ((performance.now() - started) / 1000));
    const rssAfterAppends = rssMb();

    let consumed = 0;
    started = performance.now();
    const subscription = await log.consume({
      group: 'bench',
      handle(batch) {
        consumed += batch.records.length;
        return Promise.resolve();
      },
    });
    while (consumed < n) await new Promise((resolve) => setTimeout(resolve, 5));
    const consumePerS = Math.round(n / ((performance.now() - started) / 1000));
    await subscription.close();
    const rssAfterConsume = rssMb();
    const memory = process.memoryUsage();
    await log.close();
    await db.close();

    const figures = {
      open_fresh_ms: openFreshMs,
      rss_after_open_mb: rssAfterOpen,
      append_1_per_call_events_per_s: singlePerS,
      append_100_per_call_events_per_s: batchPerS,
      append_50_per_call_concurrent_events_per_s: concurrentPerS,
      rss_after_22k_appends_mb: rssAfterAppends,
      consume_events_per_s: consumePerS,
      rss_after_consume_mb: rssAfterConsume,
      peak_rss_mb: peakRssMb(),
      js_heap_used_mb: Math.round(memory.heapUsed / 1_048_576),
      array_buffers_mb: Math.round(memory.arrayBuffers / 1_048_576),
    };
    return figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const { stdout } = await promisify(execFile)(process.execPath, [...embeddedNodeFlags, '--disable-warning=ExperimentalWarning', import.meta.filename, '--child'], {
    maxBuffer: 1 << 20,
  });
  return { 'node flags': embeddedNodeFlags.join(' '), ...(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number | string>) };
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await measure()));
} else if (import.meta.main) {
  console.log('embedded event log', await run());
}
