import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Queue, type JobType } from 'bullmq';
import { pino } from 'pino';
import type { ActionOutboxRow } from '../../schemas/firing.ts';
import { relayPendingBatch, startOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from '../../actions/outbox-relay.ts';
import { openBullmqActionQueue } from '../../platform/bullmq/bullmq-action-queue.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import { processId } from '../../platform/process-id.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, firingContext, redisUrl, silentLogger, startActionsHarness, type ActionsHarness } from './harness.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

/*
 * The in-process hand-off of committed action outbox rows to the outbox relay (`handOff`), and
 * the sweep that takes only what a hand-off missed (`sweepAfterMs`), over real PostgreSQL,
 * BullMQ on Redis, the action workers and a webhook receiver.
 *
 * The sweeps of the relays that must not take a row run with `sweepAfterMs` = 60 s, far above
 * any wait of this file: whatever reaches the receiver within the waits below came through the
 * hand-off (or the relay call the test makes itself).
 */

const automationName = 'hand-off';
/** The sweep of a relay that leaves the rows to the hand-off, in these tests. */
const longSweepAfterMs = 60_000;
/** Waits shorter than `longSweepAfterMs`, so that a sweep cannot be what satisfied them. */
const handOffWaitMs = 20_000;

describe('outbox relay hand-off', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;
  /** Reads BullMQ directly: how many jobs the queue holds for a row, whatever their state. */
  let inspector: Queue;
  const relays: OutboxRelay[] = [];

  before(async () => {
    harness = await startActionsHarness({ relay: false });
    receiver = await startWebhookReceiver();
    const url = new URL(redisUrl);
    inspector = new Queue(harness.queueName, { connection: { host: url.hostname, port: Number(url.port || 6379) }, prefix: harness.prefix });
  });
  after(async () => {
    for (const relay of relays) await relay.close().catch(() => undefined);
    await harness?.close();
    await receiver?.close();
    await inspector?.obliterate({ force: true }).catch(() => undefined);
    await inspector?.close();
  });

  async function startRelay(options: Partial<OutboxRelayOptions> = {}): Promise<OutboxRelay> {
    const relay = await startOutboxRelay({ db: harness.database.db, queue: harness.queue, logger: silentLogger, pollIntervalMs: 100, sweepAfterMs: longSweepAfterMs, ...options });
    relays.push(relay);
    return relay;
  }

  async function closeRelay(relay: OutboxRelay): Promise<void> {
    relays.splice(relays.indexOf(relay), 1);
    await relay.close();
  }

  /** An action outbox row as the trigger evaluator holds it after writing it: a webhook call to `/<path>/<automation name>`. */
  function written(path: string): ActionOutboxRow {
    const context = firingContext({ automation: automationName });
    return {
      id: randomUUID(),
      firing_id: context.firing.id,
      automation_name: automationName,
      phase: 'triggered',
      action_index: 0,
      action: { kind: 'call-webhook', url: `${receiver.url}/${path}/{{ automation.name }}`, retry: fastRetry },
      context,
    };
  }

  /**
   * Commits the rows to `action_outbox` as the evaluator does, created `ageMs` ago, with its
   * NOTIFY: from this process by default (the evaluator beside the relay), or from another.
   */
  async function commit(rows: readonly ActionOutboxRow[], ageMs = 0, notifier = processId): Promise<void> {
    await harness.database.db.transaction(async (tx) => {
      for (const row of rows) {
        await tx.query(
          `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() - $8 * interval '1 millisecond')`,
          [row.id, row.firing_id, row.automation_name, row.phase, row.action_index, JSON.stringify(row.action), JSON.stringify(row.context), ageMs],
        );
      }
      await tx.query('SELECT pg_notify($1, $2)', [notifyChannels.actionOutbox, notifier]);
    });
  }

  async function relayedAt(id: string): Promise<Date | null> {
    const [row] = await harness.database.db.query<{ relayed_at: Date | null }>('SELECT relayed_at FROM action_outbox WHERE id = $1', [id]);
    assert.ok(row, `outbox row ${id} exists`);
    return row.relayed_at;
  }

  const waitForRelayed = (id: string) => waitFor(`outbox row ${id} to be marked relayed`, async () => (await relayedAt(id)) !== null, handOffWaitMs);

  /** Every job of the queue, in any state, that carries this outbox row. */
  async function jobsFor(id: string): Promise<number> {
    const types: JobType[] = ['wait', 'waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'];
    const jobs = await inspector.getJobs(types);
    const ids = new Set(jobs.filter((job) => (job.data as { d?: { outbox_id?: string } }).d?.outbox_id === id).map((job) => job.id));
    return ids.size;
  }

  /** The row ran once and is done: its only job completed, one request reached the receiver, one attempt recorded. */
  async function assertRanOnce(id: string): Promise<void> {
    await waitFor(`the job of ${id} to complete`, async () => (await harness.queue.state(id)) === 'completed', handOffWaitMs);
    assert.equal(await jobsFor(id), 1, `one job for ${id}`);
    assert.equal(receiver.attemptsOf(id).length, 1, `one webhook call for ${id}`);
    const run = await harness.runs.get(id);
    assert.equal(run?.status, 'succeeded');
    assert.equal(run.attempts, 1);
  }

  test('handOff enqueues committed rows at once: each runs once, is marked relayed, and its run is recorded', async () => {
    const rows = [written('a/0'), written('a/1'), written('a/2')];
    await commit(rows);
    const relay = await startRelay();
    relay.handOff(rows);

    for (const [index, row] of rows.entries()) {
      const run = await harness.waitForRun(row.id, 'succeeded', handOffWaitMs);
      assert.equal(run.firing_id, row.firing_id);
      assert.equal(run.automation_name, automationName);
      assert.equal(run.phase, 'triggered');
      assert.equal(run.action_index, 0);
      assert.equal(run.kind, 'call-webhook');
      const [request] = receiver.attemptsOf(row.id);
      assert.equal(request?.path, `/a/${index}/${automationName}`, 'the job carries the row (its action and its context)');
      await waitForRelayed(row.id);
    }
    // Marking the rows relayed (and recording `queued` runs) after the worker ran leaves the runs as they are.
    for (const row of rows) await assertRanOnce(row.id);
    await closeRelay(relay);
  });

  test('a relay that leaves young rows to the hand-off does not sweep a fresh row; an unrestricted pass does', async () => {
    const fresh = written('b/fresh');
    const canary = written('b/canary');
    await commit([fresh]);
    // Older than the sweep's threshold: once it ran, the sweep has passed over the fresh row.
    await commit([canary], 2 * longSweepAfterMs);
    const relay = await startRelay();

    await harness.waitForRun(canary.id, 'succeeded', handOffWaitMs);
    // And once more, for a later pass.
    const later = written('b/later');
    await commit([later], 2 * longSweepAfterMs);
    await harness.waitForRun(later.id, 'succeeded', handOffWaitMs);

    assert.equal(await relayedAt(fresh.id), null, 'the fresh row is still pending');
    assert.equal(await harness.runs.get(fresh.id), undefined, 'no run was recorded for it');
    assert.equal(await harness.queue.state(fresh.id), undefined, 'it was not enqueued');
    assert.equal(receiver.attemptsOf(fresh.id).length, 0, 'it was not delivered');
    assert.equal(await relayPendingBatch(harness.database.db, harness.queue, 10, longSweepAfterMs), 0, 'a pass with the same age limit takes nothing');
    await closeRelay(relay);

    assert.ok((await relayPendingBatch(harness.database.db, harness.queue, 100, 0)) >= 1, 'a pass without an age limit takes it');
    assert.notEqual(await relayedAt(fresh.id), null);
    await harness.waitForRun(fresh.id, 'succeeded', handOffWaitMs);
    await assertRanOnce(fresh.id);
    await assertRanOnce(canary.id);
  });

  test('rows another process committed (its NOTIFY) are relayed at once, however young', async () => {
    const relay = await startRelay();
    const own = written('n/own');
    await commit([own]);
    const foreign = written('n/foreign');
    await commit([foreign], 0, 'another-process');
    await harness.waitForRun(foreign.id, 'succeeded', handOffWaitMs);
    await waitForRelayed(foreign.id);
    await assertRanOnce(foreign.id);
    // The full pass woken by the other process's NOTIFY takes every pending row, this process's
    // too (its hand-off would have been a second enqueue of the same job).
    await harness.waitForRun(own.id, 'succeeded', handOffWaitMs);
    await assertRanOnce(own.id);
    await closeRelay(relay);
  });

  test('a hand-off whose enqueue fails leaves the row pending, and the sweep relays it later', async () => {
    // A queue whose Redis does not answer: a port that was just free.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const unreachable = await openBullmqActionQueue({ redisUrl: `redis://127.0.0.1:${port}`, prefix: harness.prefix, queueName: harness.queueName, enqueueTimeoutMs: 1_000 });
    const warnings: Array<{ msg?: string; rows?: number }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg?: string; rows?: number }) });

    const row = written('c/0');
    await commit([row]);
    const broken = await startRelay({ queue: unreachable, logger });
    broken.handOff([row]);
    await closeRelay(broken); // waits for the hand-off to finish (here: to fail)
    await unreachable.close();

    assert.ok(warnings.some((warning) => warning.rows === 1 && /hand-off failed/.test(warning.msg ?? '')), 'the failed hand-off was reported');
    assert.equal(await relayedAt(row.id), null, 'the row is still pending');
    assert.equal(await harness.runs.get(row.id), undefined, 'no run was recorded');
    assert.equal(await harness.queue.state(row.id), undefined, 'nothing was enqueued');

    const sweeper = await startRelay({ sweepAfterMs: 200 });
    await harness.waitForRun(row.id, 'succeeded', handOffWaitMs);
    await waitForRelayed(row.id);
    await assertRanOnce(row.id);
    await closeRelay(sweeper);
  });

  test('a hand-off that enqueued but could not mark the row: the sweep enqueues it again, still one job and one call', async () => {
    // The relay's own database connections are gone by the time the hand-off marks the row.
    const ownDb = createPostgresDatabase({ url: harness.database.url, poolSize: 2, applicationName: 'vigil-test-hand-off' });
    const relay = await startRelay({ db: ownDb });
    await ownDb.close();

    const row = written('c/unmarked');
    await commit([row]);
    relay.handOff([row]);
    await harness.waitForRun(row.id, 'succeeded', handOffWaitMs);
    await closeRelay(relay);
    assert.equal(await relayedAt(row.id), null, 'the mark failed: the row is still pending');

    const sweeper = await startRelay({ sweepAfterMs: 200 });
    await waitForRelayed(row.id);
    await closeRelay(sweeper);
    await assertRanOnce(row.id);
  });

  test('the same row handed off twice, and swept at the same time and again later, is one job and one webhook call', async () => {
    const row = written('d/0');
    await commit([row]);
    const relay = await startRelay();
    relay.handOff([row]);
    relay.handOff([row]);
    const swept = await relayPendingBatch(harness.database.db, harness.queue, 10, 0);
    assert.ok(swept <= 1, `the concurrent pass relayed ${swept} rows`);
    await harness.waitForRun(row.id, 'succeeded', handOffWaitMs);
    await waitForRelayed(row.id);
    await closeRelay(relay); // every hand-off has finished

    // As if a relay had enqueued the row and died before marking it: it is pending again.
    await harness.database.db.query('UPDATE action_outbox SET relayed_at = NULL WHERE id = $1', [row.id]);
    const again = await startRelay();
    again.handOff([row]);
    await waitForRelayed(row.id);
    await harness.database.db.query('UPDATE action_outbox SET relayed_at = NULL WHERE id = $1', [row.id]);
    assert.ok((await relayPendingBatch(harness.database.db, harness.queue, 100, 0)) >= 1);
    await closeRelay(again);

    assert.notEqual(await relayedAt(row.id), null);
    await assertRanOnce(row.id);
  });

  test(
    'flush relays every pending row even while a sweep pass that leaves young rows is in flight',
    async () => {
      const relay = await startRelay({ pollIntervalMs: 1 });
      const missed: string[] = [];
      try {
        for (let i = 0; i < 30; i++) {
          const row = written(`flush/${i}`);
          await commit([row]);
          await relay.flush();
          if ((await relayedAt(row.id)) === null) missed.push(row.id);
        }
      } finally {
        await closeRelay(relay);
        while ((await relayPendingBatch(harness.database.db, harness.queue, 100, 0)) > 0) {
          // relay what flush left behind, so that nothing stays pending
        }
      }
      assert.deepEqual(missed, [], `${missed.length} of 30 rows were left pending by flush()`);
    },
  );
});
