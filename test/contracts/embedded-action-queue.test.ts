/**
 * The ActionQueue contract on the embedded jobs table: one in-memory PGlite store for the file,
 * a queue with a fresh name per test. Plus: jobs left active by a process that died are started
 * again with the same attempt number when the queue is opened.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { openPgliteDatabase, type PgliteDatabase } from '../../platform/embedded/pglite-database.ts';
import { createTableActionQueue } from '../../platform/embedded/table-action-queue.ts';
import type { ActionJob, RetryPolicy } from '../../platform/ports/action-queue.ts';
import { waitFor } from '../support/wait-for.ts';
import { describeActionQueueContract } from './action-queue-contract.ts';

let db: PgliteDatabase | undefined;
async function store(): Promise<PgliteDatabase> {
  db ??= await openPgliteDatabase();
  return db;
}
after(async () => {
  await db?.close();
});

describeActionQueueContract('embedded jobs table', async () =>
  createTableActionQueue({ db: await store(), name: `contract-${randomUUID().slice(0, 8)}`, pollIntervalMs: 200 }),
);

const policy: RetryPolicy = { attempts: 3, backoffMs: 50, maxBackoffMs: 200, maxAgeMs: 60_000, jitter: 0 };

describe('embedded jobs table', () => {
  before(async () => {
    await store();
  });

  test('a job left active by a dead process runs again with the same attempt number', async () => {
    const database = await store();
    const name = `crash-${randomUUID().slice(0, 8)}`;
    const first = await createTableActionQueue({ db: database, name });
    const id = randomUUID();
    await first.enqueue([{ id, data: { n: 1 }, policy }]);
    // What a crash leaves behind: the row claimed (active) and never finished.
    await database.query("UPDATE embedded_action_jobs SET state = 'active' WHERE queue = $1 AND id = $2", [name, id]);
    await first.close();

    const reopened = await createTableActionQueue({ db: database, name, pollIntervalMs: 100 });
    try {
      assert.equal(await reopened.state(id), 'waiting');
      const seen: ActionJob[] = [];
      await reopened.process({ concurrency: 1, handle: (job) => Promise.resolve(void seen.push(job)) });
      await waitFor('job handled', () => seen.length === 1);
      assert.equal(seen[0]?.attempt, 1);
      await waitFor('completed', async () => (await reopened.state(id)) === 'completed');
    } finally {
      await reopened.close();
    }
  });
});
