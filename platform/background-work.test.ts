import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBackgroundWork } from './background-work.ts';

describe('background work', () => {
  test('settled() waits for every started piece; a failure goes to its onError and nowhere else', async () => {
    const work = createBackgroundWork();
    const ok = Promise.withResolvers<string>();
    const bad = Promise.withResolvers<string>();
    const errors: unknown[] = [];
    work.start(ok.promise, (error) => errors.push(error));
    work.start(bad.promise, (error) => errors.push(error));
    let settled = false;
    const waiting = work.settled().then(() => (settled = true));
    ok.resolve('done');
    await ok.promise;
    await Promise.resolve();
    assert.equal(settled, false, 'one piece is still running');
    const failure = new Error('append failed');
    bad.reject(failure);
    await waiting;
    assert.deepEqual(errors, [failure]);
    await work.settled(); // nothing left: resolves at once
  });
});
