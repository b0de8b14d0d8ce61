import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runDryRunRequest } from '../../../api/automations/dry-run-request.ts';
import { HttpError } from '../../../platform/http/http-error.ts';
import { createAutomationRepository } from '../../../triggers/automation-repository.ts';
import { type TestResult, assertProblem, call, harness, useAutomationsApi, writtenRows } from './automations-api.ts';

/* The automations API: dry runs against an event list. */

useAutomationsApi({ withCommonAutomations: true });

describe('dry run against an event list', () => {
  const at = (day: string, time: string) => `2026-03-${day}T${time}:00Z`;

  test('reactive threshold 3 within 1h: 7 events fire twice; explanations name why an event does not match', async () => {
    const times = ['10:00', '10:10', '10:20', '10:30', '10:40', '10:50', '12:00'];
    const events = [
      ...times.map((time, i) => ({ id: `f${i}`, event: 'job.failed', occurred: at('02', time), resource: { id: 'airflow.dag.sales' } })),
      { id: 'ok', event: 'job.succeeded', occurred: at('02', '10:05'), resource: { id: 'airflow.dag.sales' } },
    ];
    const reply = await call<TestResult>('POST', '/api/automations/job-failures/test', { events });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const result = reply.body;
    assert.equal(result.fired, 2);
    assert.equal(result.resolved, 0);
    assert.deepEqual(result.firings.map((f) => [f.state, f.at, f.count, f.event_ids]), [
      ['triggered', '2026-03-02T10:20:00.000Z', 3, ['f0', 'f1', 'f2']],
      ['triggered', '2026-03-02T10:50:00.000Z', 3, ['f3', 'f4', 'f5']],
    ]);
    assert.deepEqual(result.firings[0]!.window, { start: '2026-03-02T10:00:00.000Z', end: '2026-03-02T10:20:00.000Z' });
    assert.equal(result.explanations.length, 8);
    const miss = result.explanations.find((e) => e.event_id === 'ok')!;
    assert.equal(miss.matched, false);
    assert.ok(miss.clauses.some((c) => c.clause === 'trigger.expect' && !c.matched));
    assert.deepEqual([result.events, result.matched], [8, 7]);
    assert.equal(await writtenRows(['job-failures']), 0, 'a dry run writes no state, firing, outbox row or lifecycle event');
  });

  test('deadline SLA: a day without the refresh fires once at the deadline; the late refresh resolves it', async () => {
    const event = (id: string, day: string, time: string) => ({ id, event: 'sales.refreshed', occurred: at(day, time), resource: { id: 'dbt.model.sales' } });
    const reply = await call<TestResult>('POST', '/api/automations/paused-sla/test', {
      events: [event('mon', '02', '07:00'), event('tue-late', '03', '10:00'), event('wed', '04', '06:30'), { ...event('other-model', '03', '07:00'), resource: { id: 'dbt.model.costs' } }],
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const result = reply.body;
    assert.deepEqual([result.fired, result.resolved], [1, 1]);
    const [firing] = result.firings;
    assert.equal(firing!.state, 'resolved');
    assert.equal(firing!.deadline, '2026-03-03T08:00:00.000Z', '09:00 Berlin');
    assert.equal(firing!.at, '2026-03-03T08:00:00.000Z');
    assert.equal(firing!.resolved_at, '2026-03-03T10:00:00.000Z');
    assert.equal(firing!.resolved_by, 'tue-late');
    assert.equal(result.explanations.find((e) => e.event_id === 'other-model')!.matched, false);
    assert.equal(result.clock.end, '2026-03-04T08:00:00.000Z', 'the clock ran on to the deadline after the last event (Wednesday 06:30Z)');
    assert.equal(await writtenRows(['paused-sla']), 0);
  });

  test('an unsaved definition under a new name; ids and times filled in as the intake does; duplicates counted once', async () => {
    const automation = { trigger: { type: 'event', expect: ['deploy.*', '!deploy.skipped'], for_each: ['resource.id'], threshold: 2, within: '5m' } };
    const reply = await call<TestResult>('POST', '/api/automations/brand-new/test', {
      automation,
      events: [
        { event: 'deploy.started', resource: { id: 'svc.a' } },
        { event: 'deploy.skipped', resource: { id: 'svc.a' } },
        { id: 'same', event: 'deploy.finished', resource: { id: 'svc.b' } },
        { id: 'same', event: 'deploy.finished', resource: { id: 'svc.b' } },
        { event: 'deploy.finished', resource: { id: 'svc.a' } },
      ],
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.fired, 1);
    assert.deepEqual(reply.body.firings[0]!.for_each, { 'resource.id': 'svc.a' });
    assert.equal(reply.body.duplicates, 1);
    assert.ok(reply.body.explanations.every((e) => typeof e.event_id === 'string' && e.event_id.length > 0), 'ids assigned');
    assertProblem(await call('GET', '/api/automations/brand-new'), 404, 'not_found');
    assert.equal(await writtenRows(['brand-new']), 0);
  });

  test('a run over its time budget is a 422, not a stuck server', async () => {
    const events = Array.from({ length: 2_500 }, (_, i) => ({ event: 'job.failed', occurred: new Date(Date.UTC(2026, 2, 2) + i * 1_000).toISOString(), resource: { id: 'r' } }));
    const db = harness.database.db;
    await assert.rejects(
      runDryRunRequest('job-failures', { events }, { db, repository: createAutomationRepository(db), limits: { budgetMs: -1, maxReplayedEvents: 100_000 } }),
      (error: unknown) => error instanceof HttpError && error.status === 422 && error.code === 'dry_run_too_large' && JSON.stringify(error.details).includes('"path":"events"'),
    );
  });

  test('explanations for the first 1,000 events only; counts cover them all', async () => {
    const events = Array.from({ length: 1_200 }, (_, i) => ({ event: 'job.failed', occurred: new Date(Date.UTC(2026, 2, 2) + i * 60_000).toISOString(), resource: { id: 'r' } }));
    const reply = await call<TestResult>('POST', '/api/automations/job-failures/test', { events });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.explanations.length, 1_000);
    assert.equal(reply.body.explanations_not_listed, 200);
    assert.equal(reply.body.fired, 400);
  });
});
