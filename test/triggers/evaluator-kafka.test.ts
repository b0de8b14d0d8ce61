import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startTriggerEvaluator } from '../../triggers/evaluator.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';
import { finishedEvents } from './helpers.ts';

/**
 * Exactly-once over the real broker and database. The automation fires once per event
 * (threshold 1), so a lost count is a missing firing and a doubled count an extra one.
 */
const partitions = 4;
const allowedLatenessMs = 24 * 3_600_000;

const events = (prefix: string, n: number): VigilEvent[] => finishedEvents(prefix, n, 37);

/** Events appended to the topic so far: a new group counts all of them. */
let appended = 0;

async function appendInChunks(log: EventLog, list: VigilEvent[], chunk = 100, pauseMs = 20): Promise<void> {
  for (let i = 0; i < list.length; i += chunk) {
    await log.append(list.slice(i, i + chunk));
    appended += list.slice(i, i + chunk).length;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

async function firingCounts(t: TestDatabase): Promise<{ firings: number; distinctEvents: number }> {
  const [row] = await t.db.query<{ firings: bigint; distinct_events: bigint }>(
    `SELECT count(*) AS firings, count(DISTINCT event_ids->>0) AS distinct_events FROM firings WHERE automation_name = 'each-finish'`,
  );
  return { firings: Number(row!.firings), distinctEvents: Number(row!.distinct_events) };
}

async function setup(): Promise<{ t: TestDatabase; log: EventLog; topic: string; group: string }> {
  const t = await createTestDatabase();
  const saved = await createAutomationRepository(t.db).upsert({
    name: 'each-finish',
    trigger: { type: 'event', expect: ['app.job.finished'], for_each: ['resource.id'] },
    actions: [{ kind: 'emit-event', event: 'job.seen', resource: { id: '{{ event.resource.id }}' } }],
  });
  if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
  const topic = `vigil-test-triggers-${randomBytes(4).toString('hex')}`;
  const log = await createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions, clientId: 'vigil-test' });
  return { t, log, topic, group: `g-${randomBytes(3).toString('hex')}` };
}

async function expectExactlyOnce(t: TestDatabase, n: number): Promise<void> {
  await waitFor(`${n} firings`, async () => (await firingCounts(t)).firings >= n, 120_000);
  await new Promise((r) => setTimeout(r, 1_000)); // anything extra would show up now
  assert.deepEqual(await firingCounts(t), { firings: n, distinctEvents: n });
  const [outbox] = await t.db.query<{ n: bigint }>(`SELECT count(*) AS n FROM action_outbox`);
  assert.equal(Number(outbox!.n), n);
}

describe('trigger evaluator over Kafka and PostgreSQL', { timeout: 240_000 }, () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    ctx = await setup();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await ctx.log.close().catch(() => undefined);
    await ctx.t.drop();
  });

  it('two replicas in one group (the second joins mid-stream): every firing exactly once', async () => {
    const { t, log, group } = ctx;
    const n = 1_500;
    const list = events('two', n);
    const first = await startTriggerEvaluator({ db: t.db, log, group, allowedLatenessMs, maxBatchSize: 50 });
    cleanups.push(() => first.close());
    const appending = appendInChunks(log, list);
    await waitFor('first firings', async () => (await firingCounts(t)).firings > 100);
    const second = await startTriggerEvaluator({ db: t.db, log, group, allowedLatenessMs, maxBatchSize: 50 });
    cleanups.push(() => second.close());
    await appending;
    await expectExactlyOnce(t, n);
    await second.close();
    await first.close();
    cleanups.length = 0;
  });

  it('an evaluator killed with SIGKILL mid-stream and restarted: every firing exactly once', async () => {
    const { t, log, topic } = ctx;
    await t.db.query('TRUNCATE firings, action_outbox, event_outbox, trigger_state');
    const group = `g-kill-${randomBytes(3).toString('hex')}`;
    const n = 1_500;
    const spawnEvaluator = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['test/triggers/fixtures/evaluator-process.ts'], {
        env: { ...process.env, TEST_DATABASE_URL: t.url, KAFKA_BROKERS: kafkaBrokers.join(','), TEST_TOPIC: topic, TEST_PARTITIONS: String(partitions), TEST_GROUP: group },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
        child.once('exit', (code) => reject(new Error(`evaluator exited early (${code})`)));
      });
      return child;
    };
    const victim = await spawnEvaluator();
    const appending = appendInChunks(log, events('kill', n));
    await waitFor('firings before the kill', async () => (await firingCounts(t)).firings > appended / 2);
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    await appending;
    const survivor = await spawnEvaluator();
    cleanups.push(async () => {
      survivor.kill('SIGTERM');
      await new Promise((r) => survivor.once('exit', r));
    });
    // The topic also holds the earlier tests' events: this new group counts them too.
    await expectExactlyOnce(t, appended);
  });

  it('a database restart mid-stream: every firing exactly once', async () => {
    const { t, log } = ctx;
    await t.db.query('TRUNCATE firings, action_outbox, event_outbox, trigger_state');
    const group = `g-db-${randomBytes(3).toString('hex')}`;
    const evaluator = await startTriggerEvaluator({ db: t.db, log, group, allowedLatenessMs, maxBatchSize: 50 });
    cleanups.push(() => evaluator.close());
    const before = appended; // the events already in the topic
    if (before === 0) await appendInChunks(log, events('db-pre', 500));
    await waitFor('first firings', async () => (await firingCounts(t)).firings >= Math.min(appended, 300));
    const run = promisify(execFile);
    try {
      const appending = appendInChunks(log, events('db', 500));
      await run('bash', ['scripts/services.sh', 'stop', 'postgres']);
      await appending;
    } finally {
      await run('bash', ['scripts/services.sh', 'start', 'postgres']);
    }
    await expectExactlyOnce(t, appended);
  });
});

describe('trigger evaluator: batches in which nothing matches', { timeout: 120_000 }, () => {
  it('cost no transaction; a restart re-reads them harmlessly and fires nothing twice', async () => {
    const { t, log } = await setup();
    try {
      let transactions = 0;
      const counted: Database = {
        ...t.db,
        transaction: (work) => {
          transactions++;
          return t.db.transaction(work);
        },
      };
      const group = `g-idle-${randomBytes(3).toString('hex')}`;
      const options = { db: counted, log, group, allowedLatenessMs, maxBatchSize: 20, idlePositionsIntervalMs: 60_000 };
      const first = await startTriggerEvaluator(options);
      const quiet = events('quiet', 200).map((event) => ({ ...event, event: 'app.job.queued' }));
      for (let i = 0; i < quiet.length; i += 20) {
        await log.append(quiet.slice(i, i + 20));
        await new Promise((r) => setTimeout(r, 20));
      }
      await log.append(events('loud', 1));
      await waitFor('the one firing', async () => (await firingCounts(t)).firings >= 1);
      // The first batch stores the positions (none were stored yet), then only the batch with the match.
      assert.ok(transactions <= 3, `${transactions} transactions for 201 events of which one matches`);
      await first.close();

      // The stored positions may lag for the quiet partitions: a new member re-reads those records,
      // which match nothing, and skips the matching one (below its partition's stored position).
      const second = await startTriggerEvaluator({ ...options, db: t.db });
      await log.append(events('after', 1).map((event) => ({ ...event, id: 'after-restart', resource: { id: 'job.after' } })));
      await waitFor('the firing after the restart', async () => (await firingCounts(t)).firings >= 2);
      await new Promise((r) => setTimeout(r, 1_000));
      assert.deepEqual(await firingCounts(t), { firings: 2, distinctEvents: 2 });
      await second.close();
    } finally {
      await log.close().catch(() => undefined);
      await t.drop().catch(() => undefined);
    }
  });
});
