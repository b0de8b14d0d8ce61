import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { runCli } from './run-cli.ts';

/*
 * vigil action-runs list|retry against the real HTTP app with its action runs routes, over
 * PostgreSQL and a BullMQ queue on the test Redis (no workers: a retried run stays queued).
 */
describe('vigil action-runs against the real HTTP app, PostgreSQL and BullMQ', () => {
  let harness: ActionsApiHarness;
  let env: Record<string, string>;
  const failedId = randomUUID();
  const succeededId = randomUUID();
  const firingId = randomUUID();
  const cli = (...args: string[]) => runCli(args, { env });

  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, pipeline: false });
    env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.adminKey };
    const action = { kind: 'call-webhook', url: 'https://hooks.example.com/vigil' };
    const context = {
      automation: { name: 'cli-runs', description: '', tags: [] },
      firing: { id: firingId, state: 'triggered', triggered_at: '2026-01-01T00:00:00.000Z', for_each: {}, window: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.000Z' }, count: 1, events: [] },
      event: null,
    };
    await harness.database.db.query(
      `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context, relayed_at) VALUES ($1, $2, 'cli-runs', 'triggered', 0, $3, $4, now())`,
      [failedId, firingId, JSON.stringify(action), JSON.stringify(context)],
    );
    const rows: Array<[string, string, string, string | null]> = [
      [failedId, 'failed', '2026-01-01T00:01:00Z', 'gave up after 5 attempts: 500 from https://hooks.example.com/vigil'],
      [succeededId, 'succeeded', '2026-01-01T00:02:00Z', null],
      [randomUUID(), 'queued', '2026-01-01T00:03:00Z', null],
    ];
    for (const [id, status, createdAt, error] of rows) {
      await harness.database.db.query(
        `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status, attempts, created_at, error)
         VALUES ($1, $2, 'cli-runs', 'triggered', 0, 'call-webhook', $3, 1, $4, $5)`,
        [id, firingId, status, createdAt, error],
      );
    }
  });
  after(async () => {
    await harness?.close();
  });

  test('list: a table newest first, filtered by status and automation; --json for scripts', async () => {
    const all = await cli('action-runs', 'list');
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID +AUTOMATION +KIND +STATUS +ATTEMPTS +CREATED +ERROR$/);
    assert.equal(lines.length, 4);
    assert.match(lines[1]!, / queued /);
    assert.match(lines[3]!, new RegExp(`^${failedId} +cli-runs +call-webhook +failed +1 +2026-01-01 00:01:00Z +gave up after 5 attempts`));

    const failed = await cli('action-runs', 'list', '--status', 'failed', '--automation', 'cli-runs', '--json');
    assert.equal(failed.code, 0, failed.stderr);
    const runs = JSON.parse(failed.stdout) as Array<{ id: string; status: string; error: string }>;
    assert.deepEqual(runs.map((run) => [run.id, run.status]), [[failedId, 'failed']]);

    const limited = await cli('action-runs', 'list', '--limit', '2', '--json');
    assert.equal((JSON.parse(limited.stdout) as unknown[]).length, 2);

    const none = await cli('action-runs', 'list', '--automation', 'nobody', '--json');
    assert.deepEqual(JSON.parse(none.stdout), []);

    const badStatus = await cli('action-runs', 'list', '--status', 'exploded');
    assert.equal(badStatus.code, 2);
  });

  test('retry: a failed run goes back to the queue; others exit 1 with the server\'s message', async () => {
    const retried = await cli('action-runs', 'retry', failedId);
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(retried.stdout, `queued ${failedId} for retry\n`);
    const run = await harness.runs!.get(failedId);
    assert.equal(run?.status, 'queued');

    const notFailed = await cli('action-runs', 'retry', succeededId);
    assert.equal(notFailed.code, 1);
    assert.match(notFailed.stderr, /^vigil: action run .* is succeeded; only failed \(dead-lettered\) runs can be retried \[409 not_failed\]\n$/);

    const unknown = await cli('action-runs', 'retry', randomUUID());
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[404 not_found\]/);

    const readOnly = await runCli(['action-runs', 'retry', failedId], { env: { ...env, VIGIL_API_KEY: harness.readKey } });
    assert.equal(readOnly.code, 3);
    assert.match(readOnly.stderr, /lacks the "admin" scope \(it has: read\) \[403 forbidden\]/);
  });
});
