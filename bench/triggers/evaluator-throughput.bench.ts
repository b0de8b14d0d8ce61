// Evaluator throughput end to end through Kafka: 30,000 events already in a 4-partition topic,
// 100 automations (10 counting triggers per app prefix, for_each resource.id, threshold 5; half
// the events match 10 of them, the other half none); time from the evaluator's start until its
// stored positions cover every event. Also: the rate once the first batch is in (without the
// consumer-group join), and the statements each batch transaction sends (round trips, BEGIN
// and COMMIT included). Median of three runs, each on a fresh database and topic.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { Database, Sql } from '../../platform/ports/database.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startTriggerEvaluator } from '../../triggers/evaluator.ts';
import { kafkaBrokers } from '../../test/support/kafka-admin.ts';
import { createTestDatabase } from '../../test/support/test-database.ts';
import { waitFor } from '../../test/support/wait-for.ts';

const runs = 3;
const n = 30_000;

/** The database, counting the statements of each transaction. */
function countingDatabase(db: Database, perTransaction: number[]): Database {
  return {
    ...db,
    query: (text, params) => db.query(text, params),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    check: () => db.check(),
    close: () => db.close(),
    transaction: (work) =>
      db.transaction((tx) => {
        let statements = 2; // BEGIN, COMMIT
        const counted: Sql = {
          query: (text, params) => {
            statements++;
            return tx.query(text, params);
          },
        };
        return work(counted).finally(() => perTransaction.push(statements));
      }),
  };
}

interface RunFigures {
  readonly endToEnd: number;
  readonly steady: number;
  readonly firings: number;
  readonly statements: readonly number[];
}

async function once(): Promise<RunFigures> {
  const t = await createTestDatabase();
  const log = await createKafkaEventLog({ brokers: kafkaBrokers, topic: `vigil-bench-triggers-${randomBytes(4).toString('hex')}`, partitions: 4, clientId: 'vigil-bench' });
  try {
    const repo = createAutomationRepository(t.db);
    for (let i = 0; i < 100; i++) {
      const r = await repo.upsert({ name: `count-${i}`, trigger: { type: 'event', expect: [`app${i % 10}.job.*`], for_each: ['resource.id'], threshold: 5, within: '1h' } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
    }
    const base = Date.now();
    const events: VigilEvent[] = Array.from({ length: n }, (_, i) => ({
      id: `b${i}`,
      occurred: new Date(base + i).toISOString(),
      received: new Date(base + i).toISOString(),
      event: `app${i % 20}.job.finished`,
      resource: { id: `job.${i % 500}` },
      related: [],
      payload: {},
    }));
    for (let i = 0; i < n; i += 1_000) await log.append(events.slice(i, i + 1_000));
    const statements: number[] = [];
    const start = performance.now();
    let firstBatchAt: number | null = null;
    let firstBatchEvents = 0;
    const evaluator = await startTriggerEvaluator({ db: countingDatabase(t.db, statements), log, group: 'bench', allowedLatenessMs: 3_600_000, maxBatchSize: 500 });
    await waitFor('evaluator to consume everything', async () => {
        const [row] = await t.db.query<{ n: bigint | null }>(`SELECT sum(next_offset) AS n FROM consumer_positions WHERE consumer_group = 'bench'`);
        const done = Number(row?.n ?? 0);
        if (firstBatchAt === null && done > 0) {
          firstBatchAt = performance.now();
          firstBatchEvents = done;
        }
        return done >= n;
      }, 240_000, );
    const end = performance.now();
    await evaluator.close();
    const [f] = await t.db.query<{ n: bigint }>('SELECT count(*) AS n FROM firings');
    return {
      endToEnd: n / ((end - start) / 1000),
      steady: (n - firstBatchEvents) / ((end - (firstBatchAt ?? start)) / 1000),
      firings: Number(f!.n),
      statements,
    };
  } finally {
    await log.close();
    await t.drop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

export async function run(): Promise<Record<string, number | string>> {
  const figures: RunFigures[] = [];
  for (let r = 0; r < runs; r++) figures.push(await once());
  const statements = figures.flatMap((f) => f.statements);
  const range = (values: number[]): string => `${Math.round(Math.min(...values)).toLocaleString('en-US')}–${Math.round(Math.max(...values)).toLocaleString('en-US')}`;
  return {
    'evaluator events/s end to end (Kafka → Postgres, 100 automations), median of 3': Math.round(median(figures.map((f) => f.endToEnd))),
    'evaluator events/s end to end, range': range(figures.map((f) => f.endToEnd)),
    'evaluator events/s after the first batch (no group join), median': Math.round(median(figures.map((f) => f.steady))),
    'evaluator statements per batch transaction (min–max)': `${Math.min(...statements)}–${Math.max(...statements)}`,
    'evaluator firings written (each run)': figures.map((f) => f.firings).join(' / '),
  };
}

if (import.meta.main) console.log(await run());
