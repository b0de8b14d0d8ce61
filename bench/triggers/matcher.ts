// Matcher throughput with 10, 1,000 and 10,000 automations: events routed per second through
// the match index and the full matchers. Target: the 10,000 figure ≥ 0.8 × the 10 figure.
import { performance } from 'node:perf_hooks';
import { validateAutomation } from '../../schemas/automation.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { buildCatalogSnapshot } from '../../triggers/automation-catalog.ts';
import { compileTriggerProgram, type TriggerProgram } from '../../triggers/trigger-program.ts';

function programs(n: number): TriggerProgram[] {
  const out: TriggerProgram[] = [];
  for (let i = 0; i < n; i++) {
    // A realistic mix: exact names, prefixes, and wildcard names pinned to a resource id.
    const trigger =
      i % 3 === 0
        ? { type: 'event', expect: [`airflow.dag_${i}.run.failed`], for_each: ['resource.id'] }
        : i % 3 === 1
          ? { type: 'event', expect: [`dbt.project_${i}.*`], match: { env: 'prod' }, threshold: 3, within: '10m' }
          : { type: 'event', expect: ['*.failed'], match: { id: `airflow.dag.d${i}` }, where: { '>': [{ var: 'payload.duration_s' }, 10] } };
    const result = validateAutomation({ name: `a${i}`, trigger });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    out.push(compileTriggerProgram(result.automation, 1n, { allowedLatenessMs: 300_000 }));
  }
  return out;
}

function eventsFor(n: number, count: number): VigilEvent[] {
  return Array.from({ length: count }, (_, k) => {
    // Every event matches exactly one automation, whatever n is: the work per event is the same.
    const kind = k % 3;
    const i = ((k * 7919) % Math.floor(n / 3)) * 3 + kind;
    return {
      id: `e${k}`,
      occurred: new Date(1_700_000_000_000 + k).toISOString(),
      received: new Date(1_700_000_000_000 + k).toISOString(),
      event: kind === 0 ? `airflow.dag_${i}.run.failed` : kind === 1 ? `dbt.project_${i}.model.ok` : 'airflow.dag_run.failed',
      resource: { id: kind === 2 ? `airflow.dag.d${i}` : `res.${i}`, env: 'prod' },
      related: [],
      payload: { duration_s: 30 },
    };
  });
}

function measure(n: number): number {
  const snapshot = buildCatalogSnapshot(programs(n));
  const events = eventsFor(n, 20_000);
  let matched = 0;
  for (const e of events.slice(0, 2_000)) matched += snapshot.route(e).length; // warm-up
  const rounds = 5;
  const start = performance.now();
  for (let r = 0; r < rounds; r++) for (const e of events) matched += snapshot.route(e).length;
  const seconds = (performance.now() - start) / 1000;
  if (matched < 0) throw new Error('unreachable');
  return Math.round((events.length * rounds) / seconds);
}

export async function run(): Promise<Record<string, number | string>> {
  await Promise.resolve();
  const r10 = measure(10);
  const r1k = measure(1_000);
  const r10k = measure(10_000);
  return {
    'matcher events/s, 10 automations': r10,
    'matcher events/s, 1,000 automations': r1k,
    'matcher events/s, 10,000 automations': r10k,
    'matcher ratio 10,000 / 10 (target ≥ 0.8)': Number((r10k / r10).toFixed(2)),
  };
}

if (import.meta.main) console.log(await run());
