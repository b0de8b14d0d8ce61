/**
 * Embedded `vigil start` (DESIGN §8: ready ≤ 3 s, RSS ≤ 400 MB): `node cli/main.ts start` with
 * no service URLs, a fresh data directory and a free port.
 *
 * - ready: from spawn to the first `/readyz` 200, on a fresh data directory (first start: the
 *   store is created) and on the same directory again (second start);
 * - CPU time the process used until ready (all threads; less sensitive to a loaded machine);
 * - RSS (VmRSS of /proc/<pid>/status) once ready and 2 s later, and the peak (VmHWM);
 * - ingest over HTTP in embedded mode: POST /api/events with batches of 100 and of 1,000 events
 *   for BENCH_SECONDS (default 10) each, and the RSS sampled every 100 ms meanwhile.
 *
 * Node flags: those of the `vigil` launcher ({@link embeddedNodeFlags}); BENCH_NODE_FLAGS="…"
 * replaces them (BENCH_NODE_FLAGS="" for plain `node cli/main.ts start`).
 *   node bench/embedded/vigil-start.bench.ts      or      node bench/run.ts embedded
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { embeddedNodeFlags } from '../../platform/embedded/node-flags.ts';
import { storeTemplateLocation } from '../../platform/embedded/store-creation.ts';
import {
  type EmbeddedVigil,
  freePort,
  processCpuMs,
  processMemoryMb,
  readAdminKey,
  spawnEmbeddedVigil,
  stopVigil,
  waitUntilReady,
} from '../../test/embedded/embedded-vigil.ts';

type Figures = Record<string, number | string>;

const secondsPerCase = Number(process.env.BENCH_SECONDS ?? 10);
const nodeFlags = process.env.BENCH_NODE_FLAGS === undefined ? embeddedNodeFlags : process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);

function sampleEvent(index: number): Record<string, unknown> {
  return {
    event: 'airflow.task_instance.success',
    resource: { id: `airflow.dag.dag_${index % 200}`, env: 'prod', team: 'data' },
    payload: { duration_s: index % 900, try_number: 1 },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startAndMeasure(dataDir: string, port: number, label: string, figures: Figures): Promise<EmbeddedVigil> {
  const vigil = spawnEmbeddedVigil({ dataDir, port, nodeFlags, env: { VIGIL_RATE_LIMIT_PER_MINUTE: '100000000' } });
  const readyMs = await waitUntilReady(vigil, 120_000);
  const pid = vigil.child.pid!;
  figures[`${label}: ready (ms from spawn)`] = Math.round(readyMs);
  figures[`${label}: CPU time until ready (ms)`] = await processCpuMs(pid);
  figures[`${label}: RSS at ready (MB)`] = await processMemoryMb(pid);
  await sleep(2_000);
  figures[`${label}: RSS 2 s after ready (MB)`] = await processMemoryMb(pid);
  figures[`${label}: peak RSS so far (MB)`] = await processMemoryMb(pid, 'VmHWM');
  return vigil;
}

interface LoadResult {
  eventsPerSecond: number;
  failed: number;
  maxRssMb: number;
}

async function ingest(vigil: EmbeddedVigil, key: string, batchSize: number, connections: number): Promise<LoadResult> {
  const pid = vigil.child.pid!;
  const dispatcher = new Agent({ connections, pipelining: 1 });
  const body = JSON.stringify(Array.from({ length: batchSize }, (_, index) => sampleEvent(index)));
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  let accepted = 0;
  let failed = 0;
  let maxRssMb = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxRssMb = Math.max(maxRssMb, await processMemoryMb(pid));
      await sleep(100);
    }
  })();
  const started = performance.now();
  const deadline = started + secondsPerCase * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        const response = await request(`${vigil.url}/api/events`, { method: 'POST', headers, body, dispatcher });
        const result = (await response.body.json()) as { accepted?: number };
        if (response.statusCode === 202) accepted += result.accepted ?? 0;
        else failed += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  sampling = false;
  await sampler;
  await dispatcher.close();
  return { eventsPerSecond: accepted / seconds, failed, maxRssMb };
}

export async function run(): Promise<Figures> {
  const root = await mkdtemp(join(tmpdir(), 'vigil-bench-start-'));
  const dataDir = join(root, 'data');
  const template = await storeTemplateLocation();
  const figures: Figures = {
    'node flags': nodeFlags.join(' ') || '(none)',
    'store template': (await access(join(template.dataDir, 'PG_VERSION')).then(
      () => true,
      () => false,
    ))
      ? 'present'
      : 'absent (first start runs initdb)',
    'load average (1 min) before': loadavg()[0]!.toFixed(2),
  };
  let vigil: EmbeddedVigil | undefined;
  try {
    vigil = await startAndMeasure(dataDir, await freePort(), 'first start (fresh dir)', figures);
    await stopVigil(vigil);
    vigil = await startAndMeasure(dataDir, await freePort(), 'second start (existing dir)', figures);

    const key = await readAdminKey(dataDir);
    await ingest(vigil, key, 100, 4); // warm-up, ~BENCH_SECONDS
    for (const [batchSize, connections] of [
      [100, 8],
      [1000, 4],
    ] as const) {
      const result = await ingest(vigil, key, batchSize, connections);
      figures[`ingest batch=${batchSize}, ${connections} connections (events/s)`] = Math.round(result.eventsPerSecond);
      figures[`ingest batch=${batchSize}: max RSS sampled (MB)`] = result.maxRssMb;
      if (result.failed > 0) figures[`ingest batch=${batchSize}: failed requests`] = result.failed;
    }
    await sleep(2_000);
    const pid = vigil.child.pid!;
    figures['after ingest: RSS 2 s later (MB)'] = await processMemoryMb(pid);
    figures['after ingest: peak RSS of the process (MB)'] = await processMemoryMb(pid, 'VmHWM');
    figures['seconds per ingest case'] = secondsPerCase;
    figures['load average (1 min) after'] = loadavg()[0]!.toFixed(2);
    return figures;
  } finally {
    if (vigil !== undefined) await stopVigil(vigil);
    await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const figures = await run();
  for (const [name, value] of Object.entries(figures)) console.log(`${name.padEnd(56)} ${value}`);
}
