import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rerunOnRequest } from './rerun-on-request.ts';

test('requests during a run make one more run after it; the promise covers the rerun', async () => {
  let runs = 0;
  let release: (() => void) | undefined;
  const task = rerunOnRequest(async () => {
    runs += 1;
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
  });
  const first = task.request();
  const second = task.request();
  const third = task.request();
  assert.equal(runs, 1, 'one run at a time');
  release!();
  await Promise.all([first, second, third]);
  assert.equal(runs, 2, 'three requests during a run make one rerun');
  await task.request();
  assert.equal(runs, 3, 'an idle task runs at once');
});

test('no rerun once stopped; a failure rejects the request and settled() still resolves', async () => {
  let stopped = false;
  let runs = 0;
  const task = rerunOnRequest(async () => {
    runs += 1;
    await Promise.resolve();
    stopped = true;
  }, () => stopped);
  const running = task.request();
  void task.request();
  await running;
  assert.equal(runs, 1);

  const failing = rerunOnRequest(() => Promise.reject(new Error('boom')));
  await assert.rejects(failing.request(), /boom/);
  await failing.settled();
});
