import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, firingContext, startActionsHarness, type ActionsHarness } from './harness.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

describe('pause-automation, resume-automation and emit-event', () => {
  let harness: ActionsHarness;
  before(async () => {
    harness = await startActionsHarness();
    await harness.database.db.query(`INSERT INTO automations (name, definition) VALUES ('sales-sla', '{}'), ('downstream', '{}')`);
  });
  after(async () => {
    await harness.close();
  });

  test('pause-automation disables the automation that fired (or a named one) and notifies; resume enables it', async () => {
    const notifications: string[] = [];
    const unlisten = await harness.database.db.listen(notifyChannels.automations, (payload) => notifications.push(payload));
    try {
      const pause = await harness.fire({ kind: 'pause-automation', retry: fastRetry });
      await harness.waitForRun(pause, 'succeeded');
      const pauseOther = await harness.fire({ kind: 'pause-automation', automation: 'down{{ "stream" }}', retry: fastRetry });
      await harness.waitForRun(pauseOther, 'succeeded');
      const rows = await harness.database.db.query<{ name: string; enabled: boolean }>('SELECT name, enabled FROM automations ORDER BY name');
      assert.deepEqual(rows, [{ name: 'downstream', enabled: false }, { name: 'sales-sla', enabled: false }]);
      await waitFor('notifications', () => notifications.includes('sales-sla') && notifications.includes('downstream'));

      const resume = await harness.fire({ kind: 'resume-automation', automation: 'sales-sla', retry: fastRetry });
      await harness.waitForRun(resume, 'succeeded');
      const [row] = await harness.database.db.query<{ enabled: boolean }>(`SELECT enabled FROM automations WHERE name = 'sales-sla'`);
      assert.equal(row!.enabled, true);

      const missing = await harness.fire({ kind: 'pause-automation', automation: 'no-such-automation', retry: fastRetry });
      assert.match((await harness.waitForRun(missing, 'failed')).error ?? '', /automation "no-such-automation" does not exist/);
    } finally {
      await unlisten();
    }
  });

  test('pause-automation pauses as the API does: definition.enabled false and its deadlines no longer due', async () => {
    // A deadline automation with an open deadline already due: paused, the deadline timer must
    // not keep claiming it (nor fire it stale on resume), and the stored definition says paused.
    const db = harness.database.db;
    await db.query(`INSERT INTO automations (name, definition) VALUES ('overdue-sla', '{"name": "overdue-sla", "enabled": true}')`);
    await db.query(
      `INSERT INTO trigger_state (automation_name, state_key, trigger_hash, state, due_at) VALUES ('overdue-sla', '', 'h', '{}', now() - interval '1 minute')`,
    );
    const pause = await harness.fire({ kind: 'pause-automation', automation: 'overdue-sla', retry: fastRetry });
    await harness.waitForRun(pause, 'succeeded');
    const [automation] = await db.query<{ enabled: boolean; definition_enabled: boolean }>(
      `SELECT enabled, (definition->>'enabled')::boolean AS definition_enabled FROM automations WHERE name = 'overdue-sla'`,
    );
    assert.deepEqual(automation, { enabled: false, definition_enabled: false });
    const [state] = await db.query<{ due_at: Date | null }>(`SELECT due_at FROM trigger_state WHERE automation_name = 'overdue-sla'`);
    assert.equal(state!.due_at, null, 'a paused automation has nothing due');
  });

  test('emit-event emits a templated derived event with a deterministic id, vigil_depth and follows', async () => {
    const context = firingContext();
    const id = await harness.fire(
      {
        kind: 'emit-event',
        event: 'sla.missed',
        resource: { id: '{{ event.resource.id }}', team: '{{ event.payload.owner }}' },
        payload: { automation: '{{ automation.name }}', deadline: '{{ firing.deadline }}', count: '{{ firing.count }}', original: '{{ event.payload }}' },
        retry: fastRetry,
      },
      { context },
    );
    const run = await harness.waitForRun(id, 'succeeded');
    const event = harness.emitted.find((candidate) => candidate.event === 'sla.missed');
    assert.ok(event);
    assert.deepEqual(event.resource, { id: 'airflow.dag.sales_refresh', team: 'data-eng' });
    assert.equal(event.payload.automation, 'sales-sla');
    // Typed templates: the count stays a number, the payload an object.
    assert.equal(event.payload.count, 1);
    assert.deepEqual(event.payload.original, { duration_s: 812, owner: 'data-eng' });
    assert.equal(event.payload.vigil_depth, 1);
    assert.equal(event.follows, context.event!.id);
    assert.equal((run.result as { event_id: string }).event_id, event.id);
  });

  test('loop protection: an event already derived too many times is not emitted again', async () => {
    const context = firingContext({ event: { payload: { vigil_depth: 8 } } });
    const id = await harness.fire({ kind: 'emit-event', event: 'sla.missed', resource: { id: 'x' }, retry: fastRetry }, { context });
    assert.match((await harness.waitForRun(id, 'failed')).error ?? '', /loop protection/);
  });

  test('an emitted event that does not validate fails with the path', async () => {
    const id = await harness.fire({ kind: 'emit-event', event: 'bad name {{ automation.name }}', resource: { id: 'x' }, retry: fastRetry });
    assert.match((await harness.waitForRun(id, 'failed')).error ?? '', /event: must be dot-separated/);
  });

  test('lifecycle events carry the run, firing and automation', () => {
    const started = harness.emitted.filter((event) => event.event === 'vigil.action.started');
    assert.ok(started.length > 0);
    const sample = started[0]!;
    assert.equal(sample.resource.id, 'vigil.automation.sales-sla');
    assert.equal(sample.related[0]!.role, 'firing');
    assert.equal(typeof sample.payload.run_id, 'string');
  });
});
