import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { json } from '../../support/ingest-harness.ts';
import { waitFor } from '../../support/wait-for.ts';
import { startDeadlineTimer, type DeadlineTimer } from '../../../triggers/deadline-timer.ts';
import { startTriggerEvaluator, type TriggerEvaluator } from '../../../triggers/evaluator.ts';
import { type FiringsPage, type TestResult, call, harness, useAutomationsApi } from './automations-api.ts';

/* The automations API: firings written by the real evaluator and deadline timer. */

useAutomationsApi({ withCommonAutomations: true });

describe('firings: written by the real evaluator and deadline timer', () => {
  let evaluator: TriggerEvaluator;
  let timer: DeadlineTimer;
  const page = async (name: string, query = ''): Promise<FiringsPage> => {
    const reply = await call<FiringsPage>('GET', `/api/automations/${name}/firings${query}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body;
  };
  const storedFirings = async (name: string) =>
    Number((await harness.database.db.query<{ n: bigint }>('SELECT count(*) AS n FROM firings WHERE automation_name = $1', [name]))[0]!.n);

  before(async () => {
    evaluator = await startTriggerEvaluator({ db: harness.database.db, log: harness.log, group: 'automations-routes-test', allowedLatenessMs: 24 * 3_600_000 });
    timer = await startDeadlineTimer({ db: harness.database.db, catalog: evaluator.catalog });
    assert.equal((await call('PUT', '/api/automations/each-event', { trigger: { type: 'event', expect: ['fire.me'], for_each: ['resource.id'] } })).status, 201);
    assert.equal(
      (await call('PUT', '/api/automations/started-needs-success', { trigger: { type: 'event', posture: 'proactive', after: ['job.started'], expect: ['job.succeeded'], for_each: ['resource.id'], within: '1s' } })).status,
      201,
    );
    await waitFor('the evaluator to load the automations', () => ['each-event', 'started-needs-success', 'job-failures'].every((name) => evaluator.catalog.current().programs.has(name)));
  });
  after(async () => {
    await timer.close();
    await evaluator.close();
  });

  test('pages newest first with a cursor: each firing exactly once, ties ordered by id', async () => {
    const events = Array.from({ length: 25 }, (_, i) => ({ id: `fire-${i}`, event: 'fire.me', occurred: new Date(Date.UTC(2026, 3, 1, 10, i)).toISOString(), resource: { id: `res-${i}` } }));
    assert.equal((await harness.post('/api/events', json(events))).status, 202);
    await waitFor('25 firings', async () => (await storedFirings('each-event')) === 25);
    const expected = (await harness.database.db.query<{ id: string }>(`SELECT id FROM firings WHERE automation_name = 'each-event' ORDER BY triggered_at DESC, id DESC`)).map((r) => r.id);
    for (const limit of [1, 7, 10, 25]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const result = await page('each-event', `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(result.firings.length <= limit);
        seen.push(...result.firings.map((f) => f.id));
        cursor = result.next;
        pages++;
      } while (cursor);
      assert.deepEqual(seen, expected, `limit=${limit}`);
      assert.equal(pages, Math.ceil(25 / limit), `limit=${limit}: no empty last page`);
    }
    const first = (await page('each-event', '?limit=1')).firings[0]!;
    assert.equal(first.status, 'triggered');
    assert.equal(first.resolved_at, null);
    assert.equal(first.deadline, null);
    assert.equal(first.count, 1);
    assert.equal(first.event_ids.length, 1);
    assert.deepEqual(Object.keys(first.for_each), ['resource.id']);
    assert.equal(first.window.start, first.window.end);
  });

  test('since and until select by triggered_at', async () => {
    const all = (await page('each-event', '?limit=1000')).firings;
    const times = all.map((f) => Date.parse(f.triggered_at));
    const earliest = new Date(Math.min(...times)).toISOString();
    const latest = Math.max(...times);
    assert.equal((await page('each-event', `?since=${earliest}`)).firings.length, 25);
    assert.equal((await page('each-event', `?until=${earliest}`)).firings.length, 0);
    assert.equal((await page('each-event', `?since=${new Date(latest + 1).toISOString()}`)).firings.length, 0);
  });

  test('the real evaluator and the dry run agree on the same events', async () => {
    const events = ['10:00', '10:10', '10:20', '10:30', '10:40', '10:50', '12:00'].map((time, i) => ({
      id: `agree-${i}`,
      event: 'job.failed',
      occurred: `2026-04-02T${time}:00Z`,
      resource: { id: 'airflow.dag.agree' },
    }));
    const dry = (await call<TestResult>('POST', '/api/automations/job-failures/test', { events })).body;
    assert.equal((await harness.post('/api/events', json(events))).status, 202);
    await waitFor('2 firings of job-failures', async () => (await storedFirings('job-failures')) === 2);
    const real = (await page('job-failures')).firings;
    assert.equal(real.length, dry.fired);
    assert.deepEqual(real.map((f) => f.event_ids).reverse(), dry.firings.map((f) => f.event_ids));
    assert.deepEqual(real.map((f) => f.window).reverse(), dry.firings.map((f) => f.window));
  });

  test('status: a missed expectation fires (deadline timer), the late success resolves it', async () => {
    assert.equal((await harness.post('/api/events', json([{ event: 'job.started', resource: { id: 'etl.nightly' } }]))).status, 202);
    await waitFor('the expectation to fire', async () => (await page('started-needs-success', '?status=triggered')).firings.length === 1);
    const triggered = (await page('started-needs-success')).firings[0]!;
    assert.equal(triggered.status, 'triggered');
    assert.ok(triggered.deadline !== null);
    assert.deepEqual(triggered.for_each, { 'resource.id': 'etl.nightly' });

    assert.equal((await harness.post('/api/events', json([{ event: 'job.succeeded', resource: { id: 'etl.nightly' } }]))).status, 202);
    await waitFor('the firing to resolve', async () => (await page('started-needs-success', '?status=resolved')).firings.length === 1);
    const resolved = (await page('started-needs-success', '?status=resolved')).firings[0]!;
    assert.equal(resolved.id, triggered.id);
    assert.ok(resolved.resolved_at !== null && Date.parse(resolved.resolved_at) >= Date.parse(resolved.triggered_at));
    assert.equal((await page('started-needs-success', '?status=triggered')).firings.length, 0);
  });

  test('firings outlive their automation', async () => {
    assert.equal((await call('DELETE', '/api/automations/each-event')).status, 204);
    assert.equal((await page('each-event', '?limit=1000')).firings.length, 25);
  });
});
