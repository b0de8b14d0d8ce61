// Matcher throughput with 10, 1,000 and 10,000 automations: events routed per second through
// the match index and the full matchers (CatalogSnapshot.route). Target (DESIGN §8): the
// 10,000 figure ≥ 0.8 × the 10 figure — automations that cannot match an event cost nothing.
//
// Fairness:
// - The SAME event stream is used for every automation count: 20,000 events drawn (seeded)
//   from a fixed set of names and resources. ~10% match exactly one automation (one of the
//   first ten, which exist at every count), ~10% are near misses (the index offers a
//   candidate that a label or `where` rejects), ~80% match nothing although they share name
//   prefixes and label keys with the automations. The bench checks that every count finds
//   the same matches, and reports the index candidates per event at each count.
// - All three catalogs are built up front and measured interleaved (rotating order) after a
//   warm-up, so no count benefits from running first on a cold JIT or an idle machine; the
//   figure is the median of several runs (the machine is shared).
// - A second, informational stream spreads its matches over ALL automations (each event
//   matches one automation picked at random among n): the cost of touching n different
//   compiled automations, a cache-locality figure, not the target.
import { performance } from 'node:perf_hooks';
import { validateAutomation } from '../../schemas/automation.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { seededRandom } from '../../test/support/seeded-random.ts';
import { buildCatalogSnapshot, type CatalogSnapshot } from '../../triggers/automation-catalog.ts';
import { compileTriggerProgram, type TriggerProgram } from '../../triggers/trigger-program.ts';

const counts = [10, 1_000, 10_000] as const;
const streamLength = 20_000;
/** Timed samples per count (the figure is their median), and the least time each sample runs. */
const runs = 15;
const minSampleMs = 60;
/** Kinds of automation in the mix (automation i is of kind i % kinds). */
const kinds = 4;

/** A realistic mix, by kind: exact names; name prefix + label; wildcard name pinned to a resource id + `where`; one shared name + a label per DAG. */
function automationJson(i: number): Record<string, unknown> {
  switch (i % kinds) {
    case 0:
      return { type: 'event', expect: [`airflow.dag_${i}.run.failed`], for_each: ['resource.id'] };
    case 1:
      return { type: 'event', expect: [`dbt.project_${i}.*`], match: { env: 'prod' }, threshold: 3, within: '10m' };
    case 2:
      return { type: 'event', expect: ['*.failed'], match: { id: `airflow.dag.d${i}` }, where: { '>': [{ var: 'payload.duration_s' }, 10] } };
    default:
      return { type: 'event', expect: ['airflow.dag_run.success'], match: { dag_id: `d${i}`, env: ['prod', 'staging'] } };
  }
}

function programs(n: number): TriggerProgram[] {
  const out: TriggerProgram[] = [];
  for (let i = 0; i < n; i++) {
    const result = validateAutomation({ name: `a${i}`, trigger: automationJson(i) });
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    out.push(compileTriggerProgram(result.automation, 1n, { allowedLatenessMs: 300_000 }));
  }
  return out;
}

type EventShape = Pick<VigilEvent, 'event' | 'resource' | 'payload'>;

/** The event that matches automation i (and no other, at any count). */
function matchingShape(i: number): EventShape {
  switch (i % kinds) {
    case 0:
      return { event: `airflow.dag_${i}.run.failed`, resource: { id: `res.${i}` }, payload: {} };
    case 1:
      return { event: `dbt.project_${i}.model.ok`, resource: { id: `dbt.model.m${i}`, env: 'prod' }, payload: {} };
    case 2:
      return { event: 'airflow.dag_run.failed', resource: { id: `airflow.dag.d${i}` }, payload: { duration_s: 30 } };
    default:
      return { event: 'airflow.dag_run.success', resource: { id: `airflow.dag.d${i}`, dag_id: `d${i}`, env: 'prod' }, payload: {} };
  }
}

/** An event the index offers to automation i, rejected by a label or `where` (only for kinds that have one). */
function nearMissShape(i: number): EventShape {
  switch (i % kinds) {
    case 1:
      return { event: `dbt.project_${i}.model.ok`, resource: { id: `dbt.model.m${i}`, env: 'dev' }, payload: {} };
    case 2:
      return { event: 'airflow.dag_run.failed', resource: { id: `airflow.dag.d${i}` }, payload: { duration_s: 5 } };
    case 3:
      return { event: 'airflow.dag_run.success', resource: { id: `airflow.dag.d${i}`, dag_id: `d${i}`, env: 'dev' }, payload: {} };
    default:
      return { event: `airflow.dag_${i}.run.succeeded`, resource: { id: `res.${i}` }, payload: {} };
  }
}

/** Events no automation matches at any count, sharing prefixes and label keys with them. */
function nonMatchingShapes(): EventShape[] {
  const shapes: EventShape[] = [];
  for (let j = 0; j < 50; j++) {
    shapes.push({ event: `airflow.dag_${j}.run.success`, resource: { id: `res.${j}` }, payload: {} });
    shapes.push({ event: 'airflow.dag_run.success', resource: { id: `airflow.dag.x${j}`, dag_id: `x${j}`, env: 'prod' }, payload: {} });
    shapes.push({ event: 'airflow.dag_run.failed', resource: { id: `airflow.dag.x${j}` }, payload: { duration_s: 30 } });
    shapes.push({ event: `prefect.flow_run.${j % 2 === 0 ? 'Completed' : 'Running'}`, resource: { id: `prefect.flow.f${j}`, env: 'prod' }, payload: {} });
  }
  return shapes;
}


function toEvents(shapes: readonly EventShape[], prefix: string): VigilEvent[] {
  // Through JSON, like events read from Kafka: every event has its own strings and objects.
  const base = 1_700_000_000_000;
  return JSON.parse(
    JSON.stringify(
      shapes.map((s, k) => ({ id: `${prefix}${k}`, occurred: new Date(base + k).toISOString(), received: new Date(base + k).toISOString(), related: [], ...s })),
    ),
  ) as VigilEvent[];
}

/** The target's stream: the same for every count. */
function fixedStream(): VigilEvent[] {
  const rand = seededRandom(42);
  const nonMatching = nonMatchingShapes();
  const shapes: EventShape[] = [];
  for (let k = 0; k < streamLength; k++) {
    const r = rand();
    const i = Math.floor(rand() * 10);
    shapes.push(r < 0.1 ? matchingShape(i) : r < 0.2 ? nearMissShape(i) : nonMatching[Math.floor(rand() * nonMatching.length)]!);
  }
  return toEvents(shapes, 'f');
}

/** Informational: each event matches one automation picked at random among all n. */
function spreadStream(n: number): VigilEvent[] {
  const rand = seededRandom(7);
  return toEvents(Array.from({ length: streamLength }, () => matchingShape(Math.floor(rand() * n))), 's');
}

let sink = 0;

function routeAll(snapshot: CatalogSnapshot, events: readonly VigilEvent[]): number {
  let matched = 0;
  for (let k = 0; k < events.length; k++) matched += snapshot.route(events[k]!).length;
  return matched;
}

/** Events per second over whole passes of the stream, for at least minSampleMs. */
function timed(snapshot: CatalogSnapshot, events: readonly VigilEvent[]): number {
  const start = performance.now();
  let passes = 0;
  let elapsed: number;
  do {
    sink += routeAll(snapshot, events);
    passes++;
    elapsed = performance.now() - start;
  } while (elapsed < minSampleMs);
  return (events.length * passes) / (elapsed / 1000);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Matches and candidates of each event, as a fingerprint: must not depend on the count. */
function fingerprint(snapshot: CatalogSnapshot, events: readonly VigilEvent[]): { matches: string; candidates: number } {
  let candidates = 0;
  const matches = events.map((e) => {
    candidates += snapshot.index.candidates(e).length;
    return snapshot
      .route(e)
      .map((m) => m.program.automation.name)
      .join(',');
  });
  return { matches: matches.join(';'), candidates };
}

/** Interleaved, warmed-up measurement of each snapshot over its stream: median events/s per snapshot. */
function measure(subjects: ReadonlyArray<{ snapshot: CatalogSnapshot; events: readonly VigilEvent[] }>): number[] {
  for (const s of subjects) for (let w = 0; w < 3; w++) sink += routeAll(s.snapshot, s.events);
  const figures: number[][] = subjects.map(() => []);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const j = (k + r) % subjects.length;
      figures[j]!.push(timed(subjects[j]!.snapshot, subjects[j]!.events));
    }
  }
  return figures.map((f) => Math.round(median(f)));
}

export async function run(): Promise<Record<string, number | string>> {
  await Promise.resolve();
  const snapshots = counts.map((n) => buildCatalogSnapshot(programs(n)));
  const stream = fixedStream();

  const prints = snapshots.map((s) => fingerprint(s, stream));
  if (prints.some((p) => p.matches !== prints[0]!.matches)) throw new Error('the stream does not match the same automations at every count');
  const matchedShare = prints[0]!.matches.split(';').filter((m) => m !== '').length / stream.length;

  const fixed = measure(snapshots.map((snapshot) => ({ snapshot, events: stream })));
  const spread = measure(snapshots.map((snapshot, k) => ({ snapshot, events: spreadStream(counts[k]!) })));
  if (sink < 0) throw new Error('unreachable');
  return {
    'matcher stream: events matching one automation': `${(matchedShare * 100).toFixed(1)}%`,
    'matcher candidates/event, 10 / 1,000 / 10,000': prints.map((p) => (p.candidates / stream.length).toFixed(2)).join(' / '),
    'matcher events/s, 10 automations': fixed[0]!,
    'matcher events/s, 1,000 automations': fixed[1]!,
    'matcher events/s, 10,000 automations': fixed[2]!,
    'matcher ratio 10,000 / 10 (target ≥ 0.8)': Number((fixed[2]! / fixed[0]!).toFixed(2)),
    'matcher events/s, matches spread over all n, 10 (info)': spread[0]!,
    'matcher events/s, matches spread over all n, 1,000 (info)': spread[1]!,
    'matcher events/s, matches spread over all n, 10,000 (info)': spread[2]!,
    'matcher spread ratio 10,000 / 10 (info)': Number((spread[2]! / spread[0]!).toFixed(2)),
  };
}

if (import.meta.main) console.log(await run());
