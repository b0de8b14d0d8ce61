/* eslint-disable @typescript-eslint/require-await -- handlers are async by contract; many of these finish without awaiting */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, describe, test } from 'node:test';
import {
  PermanentActionError,
  RetryableActionError,
  type ActionJob,
  type ActionQueue,
  type FailureDecision,
  type RetryPolicy,
} from '../../platform/ports/action-queue.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * The contract every ActionQueue adapter passes (BullMQ, and the embedded jobs table):
 * id-dedupe, delay, retries with the shared policy (Retry-After honoured), dead letters and
 * their retry, bounded concurrency. `openQueue` returns a fresh, empty queue each call.
 */

const fastPolicy: RetryPolicy = { attempts: 3, backoffMs: 50, maxBackoffMs: 200, maxAgeMs: 60_000, jitter: 0 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeActionQueueContract(name: string, openQueue: () => Promise<ActionQueue>): void {
  describe(`ActionQueue contract: ${name}`, () => {
    const open: ActionQueue[] = [];
    const fresh = async () => {
      const queue = await openQueue();
      open.push(queue);
      return queue;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((queue) => queue.close()));
    });
    after(async () => {
      await Promise.all(open.splice(0).map((queue) => queue.close()));
    });

    test('delivers a job with its data, attempt 1 and the enqueue time', async () => {
      const queue = await fresh();
      const seen: ActionJob[] = [];
      await queue.process({ concurrency: 1, handle: async (job) => void seen.push(job) });
      const before = Date.now();
      const id = randomUUID();
      await queue.enqueue([{ id, data: { hello: 'world', n: 1 }, policy: fastPolicy }]);
      await waitFor('job handled', () => seen.length === 1);
      assert.equal(seen[0]!.id, id);
      assert.deepEqual(seen[0]!.data, { hello: 'world', n: 1 });
      assert.equal(seen[0]!.attempt, 1);
      assert.deepEqual(seen[0]!.policy, fastPolicy);
      assert.ok(seen[0]!.enqueuedAt.getTime() >= before - 1_000);
      await waitFor('completed', async () => (await queue.state(id)) === 'completed');
    });

    test('an id is enqueued once: again in the same batch, while waiting, and after completion', async () => {
      const queue = await fresh();
      const id = randomUUID();
      await queue.enqueue([
        { id, data: { copy: 1 }, policy: fastPolicy },
        { id, data: { copy: 2 }, policy: fastPolicy },
      ]);
      await queue.enqueue([{ id, data: { copy: 3 }, policy: fastPolicy }]);
      const seen: unknown[] = [];
      await queue.process({ concurrency: 2, handle: async (job) => void seen.push(job.data) });
      await waitFor('completed', async () => (await queue.state(id)) === 'completed');
      await queue.enqueue([{ id, data: { copy: 4 }, policy: fastPolicy }]);
      await sleep(300);
      assert.deepEqual(seen, [{ copy: 1 }]);
    });

    test('a delayed job does not start before its delay', async () => {
      const queue = await fresh();
      let startedAt = 0;
      await queue.process({ concurrency: 1, handle: async () => void (startedAt = Date.now()) });
      const enqueuedAt = Date.now();
      await queue.enqueue([{ id: randomUUID(), data: {}, policy: fastPolicy, delayMs: 400 }]);
      await waitFor('delayed job handled', () => startedAt > 0);
      assert.ok(startedAt - enqueuedAt >= 350, `started after ${startedAt - enqueuedAt} ms`);
    });

    test('retryable failures are retried with increasing attempt numbers, then the job completes', async () => {
      const queue = await fresh();
      const attempts: number[] = [];
      const decisions: FailureDecision[] = [];
      await queue.process({
        concurrency: 1,
        handle: async (job) => {
          attempts.push(job.attempt);
          if (job.attempt < 3) throw new RetryableActionError('upstream 503');
        },
        onFailure: async (_job, _error, decision) => void decisions.push(decision),
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: {}, policy: fastPolicy }]);
      await waitFor('completed', async () => (await queue.state(id)) === 'completed');
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(decisions.length, 2);
      assert.ok(decisions.every((decision) => decision.retry));
    });

    test('Retry-After is honoured: the next attempt waits at least that long', async () => {
      const queue = await fresh();
      const starts: number[] = [];
      await queue.process({
        concurrency: 1,
        handle: async (job) => {
          starts.push(Date.now());
          if (job.attempt === 1) throw new RetryableActionError('429', { retryAfterMs: 600 });
        },
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: {}, policy: fastPolicy }]);
      await waitFor('completed', async () => (await queue.state(id)) === 'completed');
      assert.equal(starts.length, 2);
      assert.ok(starts[1]! - starts[0]! >= 550, `retried after ${starts[1]! - starts[0]!} ms`);
    });

    test('a permanent failure is dead-lettered at once with its reason', async () => {
      const queue = await fresh();
      let calls = 0;
      const decisions: FailureDecision[] = [];
      await queue.process({
        concurrency: 1,
        handle: async () => {
          calls += 1;
          throw new PermanentActionError('HTTP 404 from receiver');
        },
        onFailure: async (_job, _error, decision) => void decisions.push(decision),
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: { x: 1 }, policy: fastPolicy }]);
      await waitFor('dead', async () => (await queue.state(id)) === 'dead');
      assert.equal(calls, 1);
      assert.deepEqual(decisions, [{ retry: false, reason: 'HTTP 404 from receiver' }]);
      const dead = (await queue.deadLetters()).find((letter) => letter.id === id);
      assert.ok(dead, 'listed as a dead letter');
      assert.match(dead.reason, /HTTP 404 from receiver/);
      assert.deepEqual(dead.data, { x: 1 });
    });

    test('a job failing every attempt is dead-lettered after the policy attempts', async () => {
      const queue = await fresh();
      let calls = 0;
      await queue.process({
        concurrency: 1,
        handle: async () => {
          calls += 1;
          throw new Error('connection reset');
        },
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: {}, policy: { ...fastPolicy, attempts: 2 } }]);
      await waitFor('dead', async () => (await queue.state(id)) === 'dead');
      assert.equal(calls, 2);
      const dead = (await queue.deadLetters()).find((letter) => letter.id === id);
      assert.match(dead?.reason ?? '', /gave up after 2 attempts: connection reset/);
    });

    test('a retry that would start beyond the max age dead-letters instead', async () => {
      const queue = await fresh();
      let calls = 0;
      await queue.process({
        concurrency: 1,
        handle: async () => {
          calls += 1;
          throw new RetryableActionError('503', { retryAfterMs: 5_000 });
        },
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: {}, policy: { ...fastPolicy, maxAgeMs: 1_000 } }]);
      await waitFor('dead', async () => (await queue.state(id)) === 'dead');
      assert.equal(calls, 1);
      const dead = (await queue.deadLetters()).find((letter) => letter.id === id);
      assert.match(dead?.reason ?? '', /max age/);
    });

    test('a dead letter can be retried with a fresh attempt budget', async () => {
      const queue = await fresh();
      let fail = true;
      const attempts: number[] = [];
      await queue.process({
        concurrency: 1,
        handle: async (job) => {
          attempts.push(job.attempt);
          if (fail) throw new PermanentActionError('receiver misconfigured');
        },
      });
      const id = randomUUID();
      await queue.enqueue([{ id, data: {}, policy: fastPolicy }]);
      await waitFor('dead', async () => (await queue.state(id)) === 'dead');
      fail = false;
      assert.equal(await queue.retryDeadLetter(id), true);
      await waitFor('completed', async () => (await queue.state(id)) === 'completed');
      assert.deepEqual(attempts, [1, 1]);
      assert.equal(await queue.retryDeadLetter(id), false, 'no longer a dead letter');
      assert.equal(await queue.retryDeadLetter(randomUUID()), false, 'unknown id');
    });

    test('a worker runs at most `concurrency` jobs at once', async () => {
      const queue = await fresh();
      let running = 0;
      let most = 0;
      let done = 0;
      await queue.process({
        concurrency: 3,
        handle: async () => {
          running += 1;
          most = Math.max(most, running);
          await sleep(150);
          running -= 1;
          done += 1;
        },
      });
      await queue.enqueue(Array.from({ length: 9 }, () => ({ id: randomUUID(), data: {}, policy: fastPolicy })));
      await waitFor('all handled', () => done === 9);
      assert.equal(most, 3);
    });

    test('check() resolves while the backend is reachable', async () => {
      const queue = await fresh();
      await queue.check();
    });
  });
}
