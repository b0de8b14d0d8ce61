import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { pruneRelayedOutbox, startOutboxRelay } from '../../actions/outbox-relay.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, firingContext, silentLogger, startActionsHarness, startWorkerProcess, type ActionsHarness } from './harness.ts';

/*
 * (1) A job BullMQ fails itself, without running the handler — its workers died mid-attempt
 *     more often than maxStalledCount allows — is recorded as failed with the reason, not left
 *     `running`, and can be retried.
 * (2) Relayed outbox rows are deleted after their retention, except those of failed runs.
 */

describe('a job failed by BullMQ after too many stalls', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;
  const children: ChildProcess[] = [];
  const lockMs = 1_500;

  before(async () => {
    // maxStalledCount 0: the first time a job's worker dies, the job is failed (BullMQ's default is 1; Vigil's 3).
    harness = await startActionsHarness({ workers: false, queue: { lockDurationMs: lockMs, stalledIntervalMs: 300, maxStalledCount: 0 } });
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await harness.close();
    await receiver.close();
  });

  test('the run is recorded as failed with the reason, a failed event is emitted, and it can be retried', async () => {
    const child = await startWorkerProcess(harness, lockMs, children);

    const hold = receiver.hold(/\/stall$/);
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/stall`, retry: fastRetry });
    await hold.held;
    assert.equal((await harness.runs.get(id))?.status, 'running');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    hold.release();

    // An in-process worker finds the job stalled, and BullMQ fails it without running it.
    await harness.startWorkers();
    const run = await harness.waitForRun(id, 'failed', 30_000);
    assert.match(run.error ?? '', /stopped mid-attempt 1 time \(crashed, was killed or stopped renewing its lock\), more than the 0 restarts allowed/);
    assert.match(run.error ?? '', /job stalled more than allowable limit/);
    assert.notEqual(run.finished_at, null);
    assert.equal(await harness.queue.state(id), 'dead');
    assert.equal(receiver.attemptsOf(id).length, 1, 'the action was not run again');
    await waitFor('the failed lifecycle event', () =>
      harness.emitted.find((event) => event.event === 'vigil.action.failed' && (event.payload as { run_id?: string }).run_id === id),
    );
    assert.equal(
      (await harness.metrics.getSingleMetricAsString('vigil_actions_total')).includes('kind="call-webhook",outcome="failed"'),
      true,
      'counted as a failed call-webhook',
    );

    assert.equal(await harness.runs.retry(id), 'retried');
    const retried = await harness.waitForRun(id, 'succeeded');
    assert.equal(retried.attempts, 2);
    assert.deepEqual(receiver.deliveries.filter((key) => key === id), [id]);
  });
});

describe('outbox retention', () => {
  let harness: ActionsHarness;
  before(async () => {
    harness = await startActionsHarness({ workers: false, relay: false });
  });
  after(async () => {
    await harness.close();
  });

  /** An outbox row as the trigger evaluator writes it, already relayed `relayedDaysAgo` days ago (or pending), with a run of that status. */
  async function outboxRow(relayedDaysAgo: number | null, runStatus: string | null): Promise<string> {
    const id = randomUUID();
    const context = firingContext();
    await harness.database.db.query(
      `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context, relayed_at)
       VALUES ($1, $2, $3, 'triggered', 0, $4, $5, CASE WHEN $6::int IS NULL THEN NULL ELSE now() - make_interval(days => $6::int) END)`,
      [id, context.firing.id, context.automation.name, JSON.stringify({ kind: 'emit-event', event: 'retention.test' }), JSON.stringify(context), relayedDaysAgo],
    );
    if (runStatus !== null) {
      await harness.database.db.query(
        `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status) VALUES ($1, $2, $3, 'triggered', 0, 'emit-event', $4)`,
        [id, context.firing.id, context.automation.name, runStatus],
      );
    }
    return id;
  }

  const remaining = async () =>
    new Set((await harness.database.db.query<{ id: string }>('SELECT id FROM action_outbox')).map((row) => row.id));

  test('relayed rows older than the retention are deleted, except those of failed runs; pending rows stay', async () => {
    const old = await outboxRow(8, 'succeeded');
    const oldRetrying = await outboxRow(8, 'retrying');
    const oldFailed = await outboxRow(8, 'failed');
    const recent = await outboxRow(1, 'succeeded');
    const pending = await outboxRow(null, null);

    const deleted = await pruneRelayedOutbox(harness.database.db, new Date(Date.now() - 7 * 86_400_000), 1);
    assert.equal(deleted, 2);
    const left = await remaining();
    assert.equal(left.has(old), false);
    assert.equal(left.has(oldRetrying), false);
    assert.equal(left.has(oldFailed), true, 'a dead letter keeps its outbox row, so it can still be retried');
    assert.equal(left.has(recent), true);
    assert.equal(left.has(pending), true);
    assert.equal((await harness.runs.get(old))?.status, 'succeeded', 'the run records stay');

    // Once the failed run has been retried and succeeded, its row goes too.
    await harness.database.db.query(`UPDATE action_runs SET status = 'succeeded' WHERE id = $1`, [oldFailed]);
    assert.equal(await pruneRelayedOutbox(harness.database.db, new Date(Date.now() - 7 * 86_400_000)), 1);
    assert.equal((await remaining()).has(oldFailed), false);
    await harness.database.db.query('DELETE FROM action_outbox');
  });

  test('the relay prunes periodically (and on demand), with the configured retention', async () => {
    const old = await outboxRow(3, 'succeeded');
    const recent = await outboxRow(1, 'succeeded');
    const relay = await startOutboxRelay({
      db: harness.database.db,
      queue: harness.queue,
      logger: silentLogger,
      pollIntervalMs: 200,
      retentionMs: 2 * 86_400_000,
      retentionIntervalMs: 200,
    });
    try {
      await waitFor('the periodic prune', async () => !(await remaining()).has(old));
      assert.equal((await remaining()).has(recent), true);
      const older = await outboxRow(5, 'succeeded');
      assert.equal(await relay.prune(), 1);
      assert.equal((await remaining()).has(older), false);
    } finally {
      await relay.close();
    }
    const kept = await startOutboxRelay({ db: harness.database.db, queue: harness.queue, logger: silentLogger, retentionMs: 0 });
    try {
      await outboxRow(30, 'succeeded');
      assert.equal(await kept.prune(), 0, 'retention 0 keeps every row');
    } finally {
      await kept.close();
    }
  });
});
