/**
 * PGlite store: open time (fresh and existing directory), resident memory after opening and
 * after 10,000 event inserts, insert throughput — tuned settings vs PGlite's defaults, with and
 * without relaxedDurability. Each configuration runs in a fresh child process so that resident
 * memory is that configuration's alone. Figures: docs/decisions/0300-embedded-pglite-tuning.md.
 *
 *   node bench/embedded/pglite-store.ts
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openPgliteDatabase, type PgliteDatabaseOptions } from '../../platform/embedded/pglite-database.ts';

const run$ = promisify(execFile);
const inserts = 10_000;

interface Config {
  readonly name: string;
  readonly untuned: boolean;
  readonly relaxedDurability: boolean;
  /** Events per INSERT transaction. */
  readonly batch: number;
}

const configs: Config[] = [
  { name: 'default', untuned: true, relaxedDurability: false, batch: 1 },
  { name: 'tuned', untuned: false, relaxedDurability: false, batch: 1 },
  { name: 'tuned_relaxed', untuned: false, relaxedDurability: true, batch: 1 },
  { name: 'tuned_batch100', untuned: false, relaxedDurability: false, batch: 100 },
];

function rssMb(): number {
  return Math.round(process.memoryUsage.rss() / 1024 / 104.8576) / 10;
}

function sampleEvent(i: number): Record<string, unknown> {
  return {
    id: `0193a4f2-7c1e-7000-8000-${String(i).padStart(12, '0')}`,
    occurred: new Date(Date.UTC(2026, 10, 22, 8, 0, i % 3600)).toISOString(),
    received: new Date().toISOString(),
    event: 'airflow.dag_run.success',
    resource: { id: `airflow.dag.sales_refresh_${i % 500}`, name: `sales_refresh_${i % 500}`, env: 'prod' },
    related: [{ id: 'airflow.pool.default', role: 'pool' }],
    payload: { duration_s: i % 900, run_id: `scheduled__2026-11-22T08:00:00+00:00_${i}`, try_number: 1 },
  };
}

const schema = `CREATE TABLE IF NOT EXISTS bench_events (
  id text PRIMARY KEY, occurred timestamptz NOT NULL, name text NOT NULL, resource_id text NOT NULL, body jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS bench_events_occurred ON bench_events (occurred);
CREATE INDEX IF NOT EXISTS bench_events_resource ON bench_events (resource_id, occurred)`;

/** Phase "fresh": creates the store and closes it. Phase "existing": reopens it, inserts, measures. */
async function child(config: Config, dataDir: string, phase: string): Promise<Record<string, number>> {
  const options: PgliteDatabaseOptions = { dataDir, untuned: config.untuned, relaxedDurability: config.relaxedDurability };
  const started = performance.now();
  const db = await openPgliteDatabase(options);
  const openMs = Math.round(performance.now() - started);
  const rssAfterOpen = rssMb();
  if (phase === 'fresh') {
    await db.query(schema);
    await db.close();
    return { open_fresh_ms: openMs, rss_after_fresh_open_mb: rssAfterOpen };
  }
  const insertStarted = performance.now();
  for (let i = 0; i < inserts; i += config.batch) {
    const events = Array.from({ length: config.batch }, (_, k) => sampleEvent(i + k));
    await db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO bench_events (id, occurred, name, resource_id, body)
         SELECT e->>'id', (e->>'occurred')::timestamptz, e->>'event', e->'resource'->>'id', e FROM jsonb_array_elements($1::jsonb) AS e`,
        [JSON.stringify(events)],
      );
    });
  }
  const insertSeconds = (performance.now() - insertStarted) / 1000;
  const rssAfterInserts = rssMb();
  await db.close();
  return {
    open_existing_ms: openMs,
    rss_after_existing_open_mb: rssAfterOpen,
    inserts_per_s: Math.round(inserts / insertSeconds),
    rss_after_10k_inserts_mb: rssAfterInserts,
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  for (const config of configs) {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-pglite-'));
    try {
      const result: Record<string, number> = {};
      for (const phase of ['fresh', 'existing']) {
        const { stdout } = await run$(process.execPath, [import.meta.filename, '--child', JSON.stringify(config), join(dir, 'store'), phase], {
          maxBuffer: 1 << 20,
        });
        Object.assign(result, JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>);
      }
      for (const [key, value] of Object.entries(result)) figures[`${config.name}.${key}`] = value;
      console.log(config.name, result);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return figures;
}

if (process.argv[2] === '--child') {
  const config = JSON.parse(process.argv[3] ?? '{}') as Config;
  console.log(JSON.stringify(await child(config, process.argv[4] ?? '', process.argv[5] ?? 'existing')));
} else if (import.meta.main) {
  await run();
}
