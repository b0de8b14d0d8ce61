import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { coalesceIdLists, createCoalescer } from './coalescer.ts';

/**
 * A flush whose batches are recorded and held until the test releases them, one by one: the
 * timing is driven by promises the test controls, never by sleeps.
 */
function controlledFlush<In, Out>(answer: (items: readonly In[]) => readonly Out[]) {
  const batches: In[][] = [];
  const pending: Array<PromiseWithResolvers<void>> = [];
  const flush = async (items: readonly In[]): Promise<readonly Out[]> => {
    batches.push([...items]);
    const gate = Promise.withResolvers<void>();
    pending.push(gate);
    await gate.promise;
    return answer(items);
  };
  return {
    flush,
    batches,
    /** Lets the oldest held batch finish (or fail with `error`). */
    release(error?: Error): void {
      const gate = pending.shift();
      assert.ok(gate, 'a batch is in flight');
      if (error) gate.reject(error);
      else gate.resolve();
    },
    get inFlight(): number {
      return pending.length;
    },
  };
}

/** Lets every queued promise callback run (the coalescer moves on to its next batch). */
async function settle(): Promise<void> {
  for (let round = 0; round < 10; round += 1) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Records how each call settles, without leaving rejections unhandled. */
function track<T>(promise: Promise<T>) {
  const outcome: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  const done = promise.then(
    (value) => {
      outcome.settled = true;
      outcome.value = value;
    },
    (error: unknown) => {
      outcome.settled = true;
      outcome.error = error;
    },
  );
  return { outcome, done };
}

describe('createCoalescer', () => {
  test('a single call is flushed at once, alone, and gets its result', async () => {
    const calls: number[][] = [];
    const coalesced = createCoalescer<number, string>((items) => {
      calls.push([...items]);
      return Promise.resolve(items.map((item) => `result-${item}`));
    });
    const result = coalesced(7);
    // The flush starts synchronously within the call: no timer, no tick of waiting.
    assert.deepEqual(calls, [[7]]);
    assert.equal(await result, 'result-7');

    // Idle again: the next call goes out at once as well.
    const second = coalesced(8);
    assert.deepEqual(calls, [[7], [8]]);
    assert.equal(await second, 'result-8');
  });

  test('calls made while a flush is in flight go out together in the next flush, in arrival order, each with its own result', async () => {
    const control = controlledFlush<string, string>((items) => items.map((item) => item.toUpperCase()));
    const coalesced = createCoalescer(control.flush);

    const first = track(coalesced('a'));
    assert.deepEqual(control.batches, [['a']]);
    const waiting = ['b', 'c', 'd', 'e'].map((item) => track(coalesced(item)));
    await settle();
    assert.deepEqual(control.batches, [['a']], 'nothing else is flushed while the first batch is in flight');
    assert.equal(control.inFlight, 1, 'one batch in flight at a time');
    assert.ok(waiting.every(({ outcome }) => !outcome.settled));

    control.release();
    await first.done;
    assert.equal(first.outcome.value, 'A');
    await settle();
    assert.deepEqual(control.batches, [['a'], ['b', 'c', 'd', 'e']], 'the waiting calls form the next batch, in arrival order');
    // A call arriving while the second batch is in flight waits for a third one.
    const late = track(coalesced('f'));
    await settle();
    assert.equal(control.batches.length, 2);

    control.release();
    await Promise.all(waiting.map(({ done }) => done));
    assert.deepEqual(
      waiting.map(({ outcome }) => outcome.value),
      ['B', 'C', 'D', 'E'],
      'each caller gets the result at its own index',
    );
    await settle();
    assert.deepEqual(control.batches.at(-1), ['f']);
    control.release();
    await late.done;
    assert.equal(late.outcome.value, 'F');
    assert.equal(control.inFlight, 0);
  });

  test('maxItems caps a batch; the rest follow in further batches, in order', async () => {
    const control = controlledFlush<number, number>((items) => items.map((item) => item * 10));
    const coalesced = createCoalescer(control.flush, 3);

    const calls = Array.from({ length: 9 }, (_, index) => track(coalesced(index)));
    await settle();
    assert.deepEqual(control.batches, [[0]]);
    for (let batch = 0; batch < 4; batch += 1) {
      control.release();
      await settle();
    }
    await Promise.all(calls.map(({ done }) => done));
    assert.deepEqual(control.batches, [[0], [1, 2, 3], [4, 5, 6], [7, 8]]);
    assert.ok(control.batches.every((batch) => batch.length <= 3));
    assert.deepEqual(
      calls.map(({ outcome }) => outcome.value),
      [0, 10, 20, 30, 40, 50, 60, 70, 80],
    );
  });

  test('a flush that rejects rejects every caller of its batch, and later batches still work', async () => {
    const control = controlledFlush<number, number>((items) => items.map((item) => item + 1));
    const coalesced = createCoalescer(control.flush);

    const first = track(coalesced(1));
    const failing = [2, 3, 4].map((item) => track(coalesced(item)));
    control.release();
    await first.done;
    assert.equal(first.outcome.value, 2);
    await settle();
    assert.deepEqual(control.batches.at(-1), [2, 3, 4]);

    // Arrives while the failing batch is in flight: it belongs to the next batch, which succeeds.
    const after = track(coalesced(5));
    const failure = new Error('statement failed');
    control.release(failure);
    await Promise.all(failing.map(({ done }) => done));
    for (const { outcome } of failing) {
      assert.equal(outcome.error, failure, 'every caller of the batch rejects with the flush error');
      assert.equal(outcome.value, undefined);
    }
    await settle();
    assert.deepEqual(control.batches.at(-1), [5]);
    control.release();
    await after.done;
    assert.equal(after.outcome.value, 6);

    // And once idle, a new call goes out at once and succeeds.
    const later = track(coalesced(9));
    await settle();
    assert.deepEqual(control.batches.at(-1), [9]);
    control.release();
    await later.done;
    assert.equal(later.outcome.value, 10);
  });

  test('a flush that throws synchronously rejects its callers like a rejected one', async () => {
    let fail = true;
    const coalesced = createCoalescer<number, number>((items) => {
      if (fail) throw new Error('thrown before returning a promise');
      return Promise.resolve(items.map((item) => -item));
    });
    await assert.rejects(coalesced(1), /thrown before returning a promise/);
    fail = false;
    assert.equal(await coalesced(2), -2);
  });

  test('a flush that returns the wrong number of results rejects the callers of that batch', async () => {
    const control = controlledFlush<number, string>((items) => (items.includes(2) ? ['only one'] : items.map(String)));
    const coalesced = createCoalescer(control.flush);

    const first = track(coalesced(1));
    const short = [2, 3].map((item) => track(coalesced(item)));
    control.release();
    await first.done;
    assert.equal(first.outcome.value, '1');
    await settle();
    const next = track(coalesced(4));
    control.release();
    await Promise.all(short.map(({ done }) => done));
    for (const { outcome } of short) {
      assert.ok(outcome.error instanceof Error);
      assert.match(outcome.error.message, /coalesced flush returned 1 results for 2 items/);
    }
    await settle();
    control.release();
    await next.done;
    assert.equal(next.outcome.value, '4', 'the next batch is unaffected');

    // Too many results is refused the same way.
    const tooMany = createCoalescer<number, number>(() => Promise.resolve([1, 2]));
    await assert.rejects(tooMany(1), /coalesced flush returned 2 results for 1 items/);
  });
});

describe('coalesceIdLists', () => {
  test('the lists given while a write is in flight go out together, as one flat list', async () => {
    const writes: string[][] = [];
    const gates: Array<PromiseWithResolvers<void>> = [];
    const mark = coalesceIdLists(async (ids) => {
      writes.push(ids);
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      await gate.promise;
    });
    const first = mark(['a']);
    const second = mark(['b', 'c']);
    const third = mark(['d']);
    assert.deepEqual(writes, [['a']]);
    gates.shift()!.resolve();
    await first;
    assert.deepEqual(writes, [['a'], ['b', 'c', 'd']]);
    gates.shift()!.resolve();
    await Promise.all([second, third]);
  });
});
