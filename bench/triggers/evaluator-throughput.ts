// Evaluator throughput end to end through Kafka: 30,000 events already in a 4-partition topic,
// 100 automations (a counting trigger per resource prefix, plus non-matching ones); time from
// the evaluator's start until its stored positions cover every event.
import { randomBytes } from 'node:crypto';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startTriggerEvaluator } from '../../triggers/evaluator.ts';
import { createTestDatabase, kafkaBrokers, waitFor } from '../../test/triggers/test-database.ts';

export async function run(): Promise<Record<string, number | string>> {
  const t = await createTestDatabase();
  const log = await createKafkaEventLog({ brokers: kafkaBrokers, topic: `vigil-bench-triggers-${randomBytes(4).toString('hex')}`, partitions: 4, clientId: 'vigil-bench' });
  try {
    const repo = createAutomationRepository(t.db);
    for (let i = 0; i < 100; i++) {
      const r = await repo.upsert({ name: `count-${i}`, trigger: { type: 'event', expect: [`app${i % 10}.job.*`], for_each: ['resource.id'], threshold: 5, within: '1h' } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
    }
    const n = 30_000;
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
    const start = Date.now();
    const evaluator = await startTriggerEvaluator({ db: t.db, log, group: 'bench', allowedLatenessMs: 3_600_000, maxBatchSize: 500 });
    await waitFor(async () => {
      const [row] = await t.db.query<{ n: bigint | null }>(`SELECT sum(next_offset) AS n FROM consumer_positions WHERE consumer_group = 'bench'`);
      return Number(row?.n ?? 0) >= n;
    }, 'evaluator to consume everything', 240_000);
    const seconds = (Date.now() - start) / 1000;
    await evaluator.close();
    const [f] = await t.db.query<{ n: bigint }>('SELECT count(*) AS n FROM firings');
    return { 'evaluator events/s end to end (Kafka → Postgres, 100 automations)': Math.round(n / seconds), 'evaluator firings written': Number(f!.n) };
  } finally {
    await log.close();
    await t.drop();
  }
}

if (import.meta.main) console.log(await run());
