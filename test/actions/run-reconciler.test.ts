import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { reconcileRuns, reconciledNote } from '../../actions/run-reconciler.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { fastRetry, silentLogger, startActionsHarness, type ActionsHarness } from './harness.ts';

/*
 * After a PostgreSQL crash that lost its last commits (the kill matrix ran PostgreSQL with
 * synchronous_commit=off), delivered actions kept `running` records. Reproduced here on real
 * BullMQ and PostgreSQL by putting a finished run's record back to what the lost commit had left,
 * then reconciling with the queue.
 */
describe('action run records are reconciled with the queue after an outage', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;

  before(async () => {
    receiver = await startWebhookReceiver();
    harness = await startActionsHarness({ relay: true, workers: true });
  });
  after(async () => {
    await harness.close();
    await receiver.close();
  });

  const rewind = (id: string, status: string) =>
    harness.database.db.query(`UPDATE action_runs SET status = $2, finished_at = NULL, updated_at = now() - interval '1 hour' WHERE id = $1`, [id, status]);

  test('a delivered run left running becomes succeeded, a dead-lettered one failed; fresh and active records are left alone', async () => {
    const delivered = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/ok` });
    await harness.waitForRun(delivered, 'succeeded');
    receiver.failNext(1, { status: 422, body: { error: 'unknown field' }, path: /\/gone$/ });
    const doomed = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/gone`, retry: fastRetry });
    await harness.waitForRun(doomed, 'failed', 60_000);

    await rewind(delivered, 'running');
    await rewind(doomed, 'retrying');
    const result = await reconcileRuns({ db: harness.database.db, queue: harness.queue, logger: silentLogger, staleAfterMs: 60_000 });
    assert.deepEqual(result, { succeeded: 1, failed: 1, requeued: 0 });
    const ok = await harness.runs.get(delivered);
    assert.equal(ok?.status, 'succeeded');
    assert.match(ok?.error ?? '', new RegExp(reconciledNote));
    assert.equal((await harness.runs.get(doomed))?.status, 'failed');

    // a record updated a moment ago is not stale: an attempt may be in flight
    await harness.database.db.query(`UPDATE action_runs SET status = 'running', updated_at = now() WHERE id = $1`, [delivered]);
    assert.deepEqual(await reconcileRuns({ db: harness.database.db, queue: harness.queue, logger: silentLogger, staleAfterMs: 60_000 }), { succeeded: 0, failed: 0, requeued: 0 });
  });
});
