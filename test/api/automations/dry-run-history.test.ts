import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createEventHistory } from '../../../history/event-history.ts';
import type { VigilEvent } from '../../../schemas/event.ts';
import { type Problem, type TestResult, assertProblem, call, harness, useAutomationsApi, writtenRows } from './automations-api.ts';

/* The automations API: dry runs against the stored history. */

useAutomationsApi({ withCommonAutomations: true });

describe('dry run against the stored history', () => {
  before(async () => {
    const history = createEventHistory(harness.database.db);
    const stored = (id: string, name: string, occurred: string, resource = 'dbt.model.sales'): VigilEvent => ({
      id,
      occurred,
      received: occurred,
      event: name,
      resource: { id: resource },
      related: [],
      payload: {},
    });
    await history.write(harness.database.db, [
      stored('h-mon', 'sales.refreshed', '2026-03-02T07:00:00Z'),
      stored('h-tue-late', 'sales.refreshed', '2026-03-03T10:00:00Z'),
      stored('h-wed', 'sales.refreshed', '2026-03-04T06:30:00Z'),
      stored('h-before', 'sales.refreshed', '2026-03-01T07:00:00Z'),
      stored('h-after', 'sales.refreshed', '2026-03-06T07:00:00Z'),
      ...['10:00', '10:10', '10:20', '10:30', '10:40', '10:50', '12:00'].map((time, i) => stored(`h-f${i}`, 'job.failed', `2026-03-03T${time}:00Z`, 'airflow.dag.sales')),
      ...Array.from({ length: 20 }, (_, i) => stored(`h-noise-${i}`, 'other.noise', `2026-03-03T11:${String(i).padStart(2, '0')}:00Z`)),
    ]);
    // 100,001 events in one day of 2025, for the cap.
    await harness.database.db.query(
      `INSERT INTO event_history (received, id, occurred, event, resource_id, resource, related, payload)
       SELECT ts, 'bulk-' || i, ts, 'bulk.tick', 'bulk.r', '{"id": "bulk.r"}', '[]', '{}'
       FROM generate_series(0, 100000) AS i, LATERAL (SELECT timestamptz '2025-06-01T00:00:00Z' + i * interval '500 milliseconds' AS ts) AS t`,
    );
  });

  test('the deadline SLA over three days: fired once, resolved by the late refresh; only the range is replayed', async () => {
    const reply = await call<TestResult>('POST', '/api/automations/paused-sla/test', { since: '2026-03-02T00:00:00Z', until: '2026-03-05T00:00:00Z' });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const result = reply.body;
    assert.deepEqual([result.fired, result.resolved], [1, 1]);
    assert.equal(result.firings[0]!.deadline, '2026-03-03T08:00:00.000Z');
    assert.equal(result.firings[0]!.resolved_by, 'h-tue-late');
    assert.deepEqual(result.explanations.map((e) => e.event_id), ['h-mon', 'h-tue-late', 'h-wed'], 'oldest first; events of other names are not replayed');
    assert.deepEqual(result.clock, { start: '2026-03-01T08:00:00.000Z', end: '2026-03-05T00:00:00.000Z', reported_from: '2026-03-02T00:00:00.000Z' }, 'the replay warmed up from when the first window opened');
    assert.equal(await writtenRows(['paused-sla']), 0);
  });

  test('a range that ends before a deadline does not count it as missed; a longer one does', async () => {
    const short = await call<TestResult>('POST', '/api/automations/paused-sla/test', { since: '2026-03-05T00:00:00Z', until: '2026-03-05T07:59:00Z' });
    assert.equal(short.body.fired, 0);
    const long = await call<TestResult>('POST', '/api/automations/paused-sla/test', { since: '2026-03-05T00:00:00Z', until: '2026-03-07T00:00:00Z' });
    assert.equal(long.body.fired, 1, 'Thursday missed; Friday satisfied by h-after');
    assert.equal(long.body.firings[0]!.deadline, '2026-03-05T08:00:00.000Z');
    assert.equal(long.body.firings[0]!.resolved_by, 'h-after', 'which also resolves Thursday: it occurred after that window opened');
  });

  test('events before since in the window open at since count (warm-up); firings before since are not reported', async () => {
    // Wednesday's window opened Tuesday 09:00 Berlin; the refresh landed before since.
    const wednesday = await call<TestResult>('POST', '/api/automations/paused-sla/test', { since: '2026-03-04T07:00:00Z', until: '2026-03-04T12:00:00Z' });
    assert.equal(wednesday.body.fired, 0);
    assert.deepEqual(wednesday.body.explanations, [], 'warm-up events are not explained');
    // Tuesday's miss fired before this range; its resolution is not reported either.
    const after = await call<TestResult>('POST', '/api/automations/paused-sla/test', { since: '2026-03-03T09:00:00Z', until: '2026-03-03T12:00:00Z' });
    assert.deepEqual([after.body.fired, after.body.resolved], [0, 0]);
    // Two failures shortly before since and one after: the third fires inside the range.
    const failures = await call<TestResult>('POST', '/api/automations/job-failures/test', { since: '2026-03-03T10:15:00Z', until: '2026-03-03T10:25:00Z' });
    assert.equal(failures.body.fired, 1);
    assert.deepEqual(failures.body.firings[0]!.event_ids, ['h-f0', 'h-f1', 'h-f2']);
    assert.equal(failures.body.events, 1);
  });

  test('reactive threshold 3 within 1h over the stored failures fires twice', async () => {
    const reply = await call<TestResult>('POST', '/api/automations/job-failures/test', { since: '2026-03-03T00:00:00Z', until: '2026-03-04T00:00:00Z' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.fired, 2);
    assert.deepEqual(reply.body.firings.map((f) => f.event_ids), [['h-f0', 'h-f1', 'h-f2'], ['h-f3', 'h-f4', 'h-f5']]);
  });

  test('more than 100,000 stored events in the range: 422 with the limit; a narrower range replays', async () => {
    const automation = { trigger: { type: 'event', expect: ['bulk.tick'], threshold: 1000, within: '1h' } };
    const tooMany = await call<Problem>('POST', '/api/automations/bulk/test', { automation, since: '2025-06-01T00:00:00Z', until: '2025-06-02T00:00:00Z' });
    assertProblem(tooMany, 422, 'dry_run_too_large', 'until');
    assert.match(tooMany.body.message, /100000/);
    const hour = await call<TestResult>('POST', '/api/automations/bulk/test', { automation, since: '2025-06-01T00:00:00Z', until: '2025-06-01T01:00:00Z' });
    assert.equal(hour.status, 200, JSON.stringify(hour.body));
    assert.equal(hour.body.events, 7_200);
    assert.equal(hour.body.fired, 7);
  });
});
