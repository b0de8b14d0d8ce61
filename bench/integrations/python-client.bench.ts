/**
 * The Python package (sdk/python) against a real local Vigil (embedded mode, its own process):
 * - the client's sustained events/s from one thread with default batching (500 per request),
 *   and what one emit() costs the caller;
 * - the overhead the Airflow plugin adds: `airflow dags test sales_refresh` (2 tasks) with the
 *   plugin off and on (OpenLineage disabled in both), alternating, BENCH_AIRFLOW_RUNS times each
 *   (default 3); the median CPU time of each (the wall time is printed too) and the difference
 *   per task instance.
 * Needs the cached environments of scripts/python-env.sh (`.python/airflow`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pythonEnvWithVigil, runCommand } from '../../test/support/python-tools.ts';
import { startVigilProcess } from '../../test/support/vigil-process.ts';

const root = new URL('../../', import.meta.url).pathname;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function run(): Promise<Record<string, number | string>> {
  const work = await mkdtemp(join(tmpdir(), 'vigil-bench-python-'));
  const key = `bench-${randomBytes(16).toString('hex')}`;
  const venv = await pythonEnvWithVigil('airflow');
  const vigil = await startVigilProcess({ VIGIL_DATA_DIR: join(work, 'vigil'), VIGIL_ADMIN_KEY: key }, 7990 + Math.floor(Math.random() * 9));
  try {
    const events = Number(process.env.BENCH_PYTHON_EVENTS ?? 50_000);
    const throughput = await runCommand(`${venv}/bin/python`, [join(root, 'bench/integrations/python_client_throughput.py'), String(events)], { VIGIL_URL: vigil.url, VIGIL_API_KEY: key });
    if (throughput.code !== 0) throw new Error(throughput.stderr);
    const figures = JSON.parse(throughput.stdout.trim().split('\n').at(-1)!) as Record<string, number>;

    const airflowEnv = {
      AIRFLOW_HOME: join(work, 'airflow'),
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_FOLDER: join(root, 'test/integrations/airflow-dags'),
      AIRFLOW__OPENLINEAGE__DISABLED: 'true',
      VIGIL_URL: vigil.url,
    };
    const migrate = await runCommand(`${venv}/bin/airflow`, ['db', 'migrate'], airflowEnv);
    if (migrate.code !== 0) throw new Error(migrate.stderr);
    // CPU seconds of the whole `airflow dags test` process tree: on a shared machine the wall time
    // swings by seconds between runs, the CPU time by far less.
    const samples: Record<'off' | 'on', { wall: number[]; cpu: number[] }> = { off: { wall: [], cpu: [] }, on: { wall: [], cpu: [] } };
    const runs = Number(process.env.BENCH_AIRFLOW_RUNS ?? 3);
    for (let index = 0; index < runs; index += 1) {
      for (const mode of ['off', 'on'] as const) {
        const date = `2026-11-${String(index * 2 + (mode === 'on' ? 2 : 1)).padStart(2, '0')}`;
        const result = await runCommand(`${venv}/bin/python`, [join(root, 'bench/integrations/cpu_time.py'), `${venv}/bin/airflow`, 'dags', 'test', 'sales_refresh', date], {
          ...airflowEnv,
          ...(mode === 'on' ? { VIGIL_API_KEY: key } : {}),
        });
        const measured = JSON.parse(result.stdout.trim()) as { code: number; wall_s: number; cpu_s: number };
        if (result.code !== 0 || measured.code !== 0) throw new Error(`airflow dags test failed: ${result.stderr}`);
        samples[mode].wall.push(measured.wall_s);
        samples[mode].cpu.push(measured.cpu_s);
      }
    }
    const stored = await (await fetch(`${vigil.url}/api/events?event=airflow.*&limit=1000`, { headers: { authorization: `Bearer ${key}` } })).json() as { events: unknown[] };
    const cpuOff = median(samples.off.cpu);
    const cpuOn = median(samples.on.cpu);
    const fmt = (values: number[]) => values.map((value) => value.toFixed(2)).join(', ');
    return {
      'python client: events/s (one thread, batches of 500)': Math.round(figures.events_per_s!),
      'python client: emit() µs per event (caller side)': Number(figures.emit_us_per_event!.toFixed(1)),
      'python client: requests / retries': `${figures.requests} / ${figures.retries}`,
      'airflow dags test (2 tasks), plugin off: median CPU s': Number(cpuOff.toFixed(2)),
      'airflow dags test (2 tasks), plugin on: median CPU s': Number(cpuOn.toFixed(2)),
      'airflow plugin: added CPU ms per task instance': Math.round(((cpuOn - cpuOff) / 2) * 1000),
      'airflow plugin: events stored from the plugin runs': stored.events.length,
      'airflow samples off / on: CPU s': `${fmt(samples.off.cpu)} / ${fmt(samples.on.cpu)}`,
      'airflow samples off / on: wall s': `${fmt(samples.off.wall)} / ${fmt(samples.on.wall)}`,
    };
  } finally {
    await vigil.stop();
    await rm(work, { recursive: true, force: true });
  }
}
