import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { finishedEvents } from './helpers.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

/**
 * A replica frozen inside its batch transaction (SIGSTOP: a long GC pause, a network cut with the
 * session open) holds the consumer_positions and trigger_state row locks. The other replica must
 * take its partitions over within the bounds — the Kafka session timeout, then the server ends
 * the frozen transaction after idle_in_transaction_session_timeout, and the lock waits in between
 * time out (lock_timeout) and are retried — not stall until the frozen one wakes up.
 */
const partitions = 4;
const idleInTransactionMs = 3_000;
const sessionTimeoutMs = 6_000;

const events = (prefix: string, n: number): VigilEvent[] => finishedEvents(prefix, n, 41);

describe('a frozen evaluator replica does not stall the others', { timeout: 180_000 }, () => {
  let t: TestDatabase;
  let log: EventLog;
  let topic: string;
  const children: ChildProcess[] = [];

  before(async () => {
    t = await createTestDatabase();
    const saved = await createAutomationRepository(t.db).upsert({
      name: 'each-finish',
      trigger: { type: 'event', expect: ['app.job.finished'], for_each: ['resource.id'] },
      actions: [{ kind: 'emit-event', event: 'job.seen', resource: { id: '{{ event.resource.id }}' } }],
    });
    if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
    topic = `vigil-test-frozen-${randomBytes(4).toString('hex')}`;
    log = await createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions, clientId: 'vigil-test' });
  });
  after(async () => {
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await log.close();
    await t.drop();
  });

  const firings = async (): Promise<number> => Number((await t.db.query<{ n: bigint }>("SELECT count(*) AS n FROM firings WHERE automation_name = 'each-finish'"))[0]!.n);

  async function replica(name: string, group: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'test/triggers/fixtures/evaluator-process.ts'], {
      env: {
        ...process.env,
        TEST_DATABASE_URL: t.url,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        TEST_TOPIC: topic,
        TEST_PARTITIONS: String(partitions),
        TEST_GROUP: group,
        TEST_APPLICATION_NAME: name,
        TEST_LOCK_TIMEOUT_MS: '1000',
        TEST_IDLE_TX_TIMEOUT_MS: String(idleInTransactionMs),
        TEST_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
      child.once('exit', (code) => reject(new Error(`evaluator ${name} exited early (${code})`)));
    });
    return child;
  }

  /** True while `name` has a transaction open. */
  const inTransaction = async (name: string): Promise<boolean> =>
    (await t.db.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL', [name])).length > 0;

  it('the live replica takes every partition over and counts every event exactly once while the other stays frozen', async () => {
    const group = `g-frozen-${randomBytes(3).toString('hex')}`;
    const frozen = await replica('replica-frozen', group);
    await replica('replica-live', group);
    const n = 1_200;
    const list = events('frozen', n);
    let sent = 0;
    const appendSome = async (count: number) => {
      await log.append(list.slice(sent, sent + count));
      sent += count;
    };

    // Freeze the replica while it holds a batch transaction open (its row locks held).
    let stopped = false;
    for (let attempt = 0; attempt < 200 && !stopped; attempt++) {
      await appendSome(Math.min(30, n - sent));
      if (!(await inTransaction('replica-frozen'))) continue;
      frozen.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (await inTransaction('replica-frozen')) stopped = true;
      else frozen.kill('SIGCONT');
    }
    assert.ok(stopped, 'the replica was frozen inside a transaction');
    const frozenAt = Date.now();
    while (sent < n) await appendSome(Math.min(100, n - sent));

    // Each for_each key fires once per event (threshold 1): n firings, none lost, none doubled.
    await waitFor(`${n} firings with one replica frozen`, async () => (await firings()) >= n, 90_000);
    const tookMs = Date.now() - frozenAt;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await firings(), n);
    assert.ok(await inTransaction('replica-frozen').then((open) => !open), 'the server ended the frozen transaction');
    process.stdout.write(`# the live replica finished ${tookMs} ms after the freeze (session timeout ${sessionTimeoutMs} ms, idle-in-transaction timeout ${idleInTransactionMs} ms)\n`);
    frozen.kill('SIGCONT');
  });
});
