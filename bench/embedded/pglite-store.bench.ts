/**
 * PGlite store alone: open time of a new directory (initdb in a child process, or a copy of the
 * install-time template) and of an existing one, resident memory after opening and after 10,000
 * event inserts (one transaction each, or 100 per transaction), peak resident memory, insert
 * throughput — PGlite's defaults vs the tuned settings, with and without the Node.js flags of
 * `vigil start`. Each configuration and phase runs in a fresh child process, so that its memory
 * figures are its own. Figures: docs/decisions/0300-embedded-pglite-tuning.md.
 *
 *   node bench/embedded/pglite-store.bench.ts      or      node bench/run.ts embedded
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { embeddedNodeFlags } from '../../platform/embedded/node-flags.ts';
import { openPgliteDatabase, type PgliteDatabaseOptions } from '../../platform/embedded/pglite-database.ts';

const execFileAsync = promisify(execFile);
const inserts = 10_000;

interface Config {
  readonly name: string;
  readonly untuned: boolean;
  /** How a new directory is made: initdb, or a copy of the install-time template. */
  readonly create: 'initdb' | 'template';
  /** Events per INSERT transaction. */
  readonly batch: number;
  /** Node.js flags of the child processes. */
  readonly nodeFlags: readonly string[];
}

const configs: Config[] = [
  { name: 'defaults', untuned: true, create: 'initdb', batch: 1, nodeFlags: [] },
  { name: 'tuned', untuned: false, create: 'initdb', batch: 1, nodeFlags: [] },
  { name: 'tuned+template', untuned: false, create: 'template', batch: 1, nodeFlags: [] },
  { name: 'tuned+template+flags', untuned: false, create: 'template', batch: 1, nodeFlags: embeddedNodeFlags },
  { name: 'tuned+template+flags, 100/tx', untuned: false, create: 'template', batch: 100, nodeFlags: embeddedNodeFlags },
];

function rssMb(): number {
  return Math.round(process.memoryUsage.rss() / 104_857.6) / 10;
}

function peakRssMb(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? Number.NaN : Math.round(Number(match[1]) / 102.4) / 10;
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
async function child(config: Config, dataDir: string, phase: string): Promise<Record<string, number | string>> {
  const options: PgliteDatabaseOptions = { dataDir, untuned: config.untuned, ...(config.create === 'initdb' ? { template: false } : {}) };
  const started = performance.now();
  const db = await openPgliteDatabase(options);
  const openMs = Math.round(performance.now() - started);
  const rssAfterOpen = rssMb();
  if (phase === 'fresh') {
    await db.query(schema);
    const createdFrom = db.createdFrom ?? 'existing';
    await db.close();
    return { open_new_dir_ms: openMs, new_dir_from: createdFrom, rss_after_new_open_mb: rssAfterOpen, peak_rss_new_open_mb: peakRssMb() };
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
    peak_rss_existing_mb: peakRssMb(),
  };
}

export async function run(): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  for (const config of configs) {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-bench-pglite-'));
    try {
      const result: Record<string, number | string> = {};
      for (const phase of ['fresh', 'existing']) {
        const { stdout } = await execFileAsync(
          process.execPath,
          [...config.nodeFlags, '--disable-warning=ExperimentalWarning', import.meta.filename, '--child', JSON.stringify(config), join(dir, 'store'), phase],
          { maxBuffer: 1 << 20 },
        );
        Object.assign(result, JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number | string>);
      }
      for (const [key, value] of Object.entries(result)) figures[`${config.name}: ${key}`] = value;
      if (import.meta.main) console.log(config.name, result);
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
