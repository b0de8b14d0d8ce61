import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, startActionsHarness, startWorkerProcess, type ActionsHarness } from './harness.ts';

/*
 * Fault tests: Redis stopped and started again while firings happen; a worker SIGKILLed in the
 * middle of a call. The receiver must see every action, repeats with the same idempotency key,
 * and every run must complete exactly once.
 */

const root = join(import.meta.dirname, '..', '..');

function services(command: 'stop' | 'start', service: string): void {
  const result = spawnSync('bash', [join(root, 'scripts', 'services.sh'), command, service], { stdio: 'inherit', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`services.sh ${command} ${service} exited with ${result.status}`);
}

describe('Redis stopped and restarted while firings happen', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;
  before(async () => {
    harness = await startActionsHarness();
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    await harness.close();
    await receiver.close();
  });

  test('firings wait in the outbox while Redis is down and all go out, once each, when it is back', async () => {
    const fire = (label: string) => harness.fire({ kind: 'call-webhook', url: `${receiver.url}/redis/${label}`, retry: { ...fastRetry, attempts: 10 } });
    const beforeOutage = await Promise.all(Array.from({ length: 5 }, (_, index) => fire(`before-${index}`)));
    for (const id of beforeOutage) await harness.waitForRun(id, 'succeeded');

    const duringOutage: string[] = [];
    try {
      services('stop', 'redis');
      for (let index = 0; index < 10; index += 1) duringOutage.push(await fire(`during-${index}`));
      // The relay keeps failing; the rows stay pending.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const pending = await harness.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM action_outbox WHERE relayed_at IS NULL AND id = ANY($1::uuid[])',
        [duringOutage],
      );
      assert.equal(pending[0]!.n, 10, 'firings wait in the outbox');
    } finally {
      services('start', 'redis');
    }
    const afterOutage = await Promise.all(Array.from({ length: 5 }, (_, index) => fire(`after-${index}`)));
    for (const id of [...duringOutage, ...afterOutage]) await harness.waitForRun(id, 'succeeded', 60_000);
    const all = [...beforeOutage, ...duringOutage, ...afterOutage];
    for (const id of all) assert.equal(receiver.deliveries.filter((key) => key === id).length, 1, `delivered once: ${id}`);
    assert.equal(new Set(receiver.deliveries).size, all.length);
  });
});

describe('a worker SIGKILLed mid-action', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;
  const children: ChildProcess[] = [];
  const lockMs = 2_000;

  before(async () => {
    harness = await startActionsHarness({ workers: false, queue: { lockDurationMs: lockMs, stalledIntervalMs: 500 } });
    receiver = await startWebhookReceiver();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await harness.close();
    await receiver.close();
  });

  const startWorker = () => startWorkerProcess(harness, lockMs, children);

  test('the job is retried by another worker with the same idempotency key and completes once', async () => {
    const first = await startWorker();
    const hold = receiver.hold(/\/crash$/);
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/crash`, retry: fastRetry });
    await hold.held;
    const exited = once(first, 'exit');
    first.kill('SIGKILL');
    await exited;
    hold.release();

    await startWorker();
    const run = await harness.waitForRun(id, 'succeeded', 60_000);
    const attempts = receiver.attemptsOf(id);
    assert.equal(attempts.length, 2, 'the receiver saw the action again');
    assert.deepEqual(receiver.deliveries.filter((key) => key === id), [id], 'one delivery for the idempotency key');
    assert.equal(run.attempts, 2);
    // The run is recorded succeeded just before the queue marks its job completed.
    await waitFor('the job to be completed in the queue', async () => (await harness.queue.state(id)) === 'completed');
    const runs = await harness.runs.list({ firingId: run.firing_id });
    assert.equal(runs.length, 1, 'one run record');
  });
});
