import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogBatch, LogRecord } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { startAutomationCatalog, type AutomationCatalog } from '../../triggers/automation-catalog.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { fireDueStates, startDeadlineTimer } from '../../triggers/deadline-timer.ts';
import { applyBatch } from '../../triggers/evaluator.ts';
import { triggerMetrics } from '../../triggers/metrics.ts';
import { event } from './helpers.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

const metrics = triggerMetrics();
let offset = 0n;
function batchOf(events: VigilEvent[], partition = 0): LogBatch {
  const records: LogRecord[] = events.map((e) => ({ partition, offset: offset++, timestamp: new Date(), event: e }));
  return { records, nextPositions: new Map([[partition, offset]]) };
}

describe('trigger evaluator on PostgreSQL', () => {
  let t: TestDatabase;
  let catalog: AutomationCatalog;
  before(async () => {
    t = await createTestDatabase();
    catalog = await startAutomationCatalog({ db: t.db, allowedLatenessMs: 60_000 });
  });
  after(async () => {
    await catalog.close();
    await t.drop();
  });

  it('repository validates with path-level errors, upserts idempotently, and the catalog picks changes up', async () => {
    const repo = createAutomationRepository(t.db);
    const bad = await repo.upsert({ name: 'bad', trigger: { type: 'event', expect: ['a'], within: '0s', threshold: 2 } });
    assert.deepEqual(bad, { ok: false, errors: [{ path: 'trigger.within', message: 'must be greater than 0' }] });
    const doc = {
      name: 'failures',
      trigger: { type: 'event', expect: ['airflow.dag_run.failed'], for_each: ['resource.id'], threshold: 2, within: '10m' },
      actions: [{ kind: 'call-webhook', url: 'http://x' }],
    };
    const created = await repo.upsert(doc);
    assert.ok(created.ok && created.created);
    const again = await repo.upsert(doc);
    assert.ok(again.ok && !again.changed);
    await waitFor('catalog to load the automation', () => Promise.resolve(catalog.current().programs.has('failures')));
    assert.equal((await repo.list()).length, 1);
  });

  it('counts per key, fires once per threshold, writes firing + outbox + lifecycle event, dedupes replays', async () => {
    const e = (id: string, resource: string, minute: number) =>
      event({ id, event: 'airflow.dag_run.failed', resource: { id: resource }, occurred: new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString() });
    const batch = batchOf([e('f1', 'dag.a', 0), e('f2', 'dag.b', 1), e('f3', 'dag.a', 2), e('f3', 'dag.a', 2), e('f4', 'dag.b', 30)]);
    const now = Date.UTC(2026, 0, 1, 11);
    await t.db.transaction((tx) => applyBatch(tx, 'g', batch, catalog.current(), { allowedLatenessMs: 60_000, now, metrics }));
    // The same batch again (a redelivery): skipped by the stored positions.
    const replay = await t.db.transaction((tx) => applyBatch(tx, 'g', batch, catalog.current(), { allowedLatenessMs: 60_000, now, metrics }));
    assert.equal(replay.applied, 0);
    const firings = await t.db.query<{ automation_name: string; for_each: Record<string, string>; event_count: number }>('SELECT automation_name, for_each, event_count FROM firings');
    assert.deepEqual(firings, [{ automation_name: 'failures', for_each: { 'resource.id': 'dag.a' }, event_count: 2 }]);
    const outbox = await t.db.query<{ phase: string; context: { firing: { events: VigilEvent[] } } }>('SELECT phase, context FROM action_outbox');
    assert.equal(outbox.length, 1);
    assert.deepEqual(outbox[0]!.context.firing.events.map((x) => x.id), ['f1', 'f3']);
    const events = await t.db.query<{ event: VigilEvent }>(`SELECT event FROM event_outbox WHERE event->>'event' = 'vigil.automation.triggered'`);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.event.payload['vigil_depth'], 1);
  });

  it('reports events later than the allowed lateness as vigil.event.late', async () => {
    const late = event({ id: 'old', event: 'airflow.dag_run.failed', resource: { id: 'dag.b' }, occurred: new Date(Date.UTC(2026, 0, 1, 9)).toISOString() });
    await t.db.transaction((tx) => applyBatch(tx, 'g', batchOf([late]), catalog.current(), { allowedLatenessMs: 60_000, now: Date.now(), metrics }));
    const rows = await t.db.query<{ event: VigilEvent }>(`SELECT event FROM event_outbox WHERE event->>'event' = 'vigil.event.late'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.event.payload['event_id'], 'old');
  });

  it('proactive: the deadline timer fires a missed expectation once with two timers, and a late event resolves it', async () => {
    const repo = createAutomationRepository(t.db);
    const saved = await repo.upsert({
      name: 'success-after-start',
      trigger: { type: 'event', posture: 'proactive', after: ['job.started'], expect: ['job.succeeded'], for_each: ['resource.id'], within: '2s' },
      actions: [{ kind: 'send-notification', connection: 'slack', text: 'missed' }],
      actions_on_resolve: [{ kind: 'send-notification', connection: 'slack', text: 'recovered' }],
    });
    assert.ok(saved.ok);
    await waitFor('catalog', () => Promise.resolve(catalog.current().programs.has('success-after-start')));
    const timers = await Promise.all([startDeadlineTimer({ db: t.db, catalog }), startDeadlineTimer({ db: t.db, catalog })]);
    try {
      const started = new Date().toISOString();
      await t.db.transaction((tx) =>
        applyBatch(tx, 'g', batchOf([event({ event: 'job.started', resource: { id: 'job.1' }, occurred: started })]), catalog.current(), { allowedLatenessMs: 60_000, now: Date.now(), metrics }),
      );
      await waitFor('proactive firing', async () => (await t.db.query(`SELECT 1 FROM firings WHERE automation_name = 'success-after-start'`)).length > 0);
      // Let the timers run again: still exactly one firing.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await t.db.query(`SELECT 1 FROM firings WHERE automation_name = 'success-after-start'`)).length, 1);
      await t.db.transaction((tx) =>
        applyBatch(tx, 'g', batchOf([event({ event: 'job.succeeded', resource: { id: 'job.1' }, occurred: new Date().toISOString() })]), catalog.current(), {
          allowedLatenessMs: 60_000,
          now: Date.now(),
          metrics,
        }),
      );
      const [firing] = await t.db.query<{ status: string }>(`SELECT status FROM firings WHERE automation_name = 'success-after-start'`);
      assert.equal(firing!.status, 'resolved');
      const phases = await t.db.query<{ phase: string }>(`SELECT phase FROM action_outbox WHERE automation_name = 'success-after-start' ORDER BY phase DESC`);
      assert.deepEqual(phases.map((p) => p.phase), ['triggered', 'resolved']);
    } finally {
      await Promise.all(timers.map((x) => x.close()));
    }
  });

  it('deadline automations get their state on save and fire from the timer; paused ones do not', async () => {
    const repo = createAutomationRepository(t.db);
    const saved = await repo.upsert({ name: 'every-second', trigger: { type: 'deadline', expect: ['never.happens'], by: '* * * * * *', timezone: 'Europe/Berlin' } });
    assert.ok(saved.ok);
    const timer = await startDeadlineTimer({ db: t.db, catalog });
    try {
      await waitFor('deadline firings', async () => (await t.db.query(`SELECT 1 FROM firings WHERE automation_name = 'every-second'`)).length >= 2);
      await repo.setEnabled('every-second', false);
      await waitFor('catalog to drop the paused automation', () => Promise.resolve(!catalog.current().programs.has('every-second')));
      const [{ n: before }] = (await t.db.query<{ n: bigint }>(`SELECT count(*) AS n FROM firings WHERE automation_name = 'every-second'`)) as [{ n: bigint }];
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(await fireDueStates(t.db, catalog.current(), Date.now(), { limit: 100, allowedLatenessMs: 0, metrics }), 0);
      const [{ n: afterPause }] = (await t.db.query<{ n: bigint }>(`SELECT count(*) AS n FROM firings WHERE automation_name = 'every-second'`)) as [{ n: bigint }];
      assert.ok(afterPause - before <= 1n, 'at most one firing in flight when paused');
    } finally {
      await timer.close();
    }
  });
});
