import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import type { ActionRun } from '../../actions/action-runs.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { firingContext, redisUrl, secretKey } from '../actions/harness.ts';
import { waitFor } from '../support/wait-for.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

/*
 * GET /api/action-runs, GET /api/action-runs/{id}, POST /api/action-runs/{id}/retry over the real
 * HTTP app, PostgreSQL and BullMQ (a queue prefix of this file's own), with the outbox relay and
 * action workers running against a local receiver whose answer per path the tests choose.
 */

function redisConnection() {
  const url = new URL(redisUrl);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

interface RunsPage {
  action_runs: ActionRun[];
  next?: string;
}

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

/**
 * 25 seeded runs: five automations, every status, two firings; runs 10-14 within one millisecond
 * (they differ in microseconds only) and runs 15-17 at the very same instant (ordered by id).
 */
const seeded: Array<{ id: string; firing: string; automation: string; status: string; createdAt: string }> = [];
const firingA = randomUUID();
const firingB = randomUUID();
const statuses = ['queued', 'running', 'retrying', 'succeeded', 'failed'] as const;
for (let index = 0; index < 25; index += 1) {
  const createdAt =
    index >= 10 && index < 15
      ? `2026-01-01T00:10:00.12345${index - 10}Z`
      : index >= 15 && index < 18
        ? '2026-01-01T00:15:00.500000Z'
        : `2026-01-01T00:${String(index).padStart(2, '0')}:00.000000Z`;
  seeded.push({
    id: randomUUID(),
    firing: index % 2 === 0 ? firingA : firingB,
    automation: `seed-${String.fromCharCode(97 + (index % 5))}`,
    status: statuses[index % 5]!,
    createdAt,
  });
}
/** Newest first, ties by id descending: the API's order. */
const expectedOrder = [...seeded].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1)).map((run) => run.id);

describe('action runs routes', () => {
  let harness: ActionsApiHarness;
  let receiver: Server;
  let receiverUrl: string;
  const answers = new Map<string, number>();

  const get = (path: string) => harness.request('GET', path);
  const page = async (query: string): Promise<RunsPage> => {
    const response = await get(`/api/action-runs?${query}`);
    assert.equal(response.status, 200, response.text);
    return response.body as RunsPage;
  };
  const ids = async (query: string) => (await page(`limit=1000&${query}`)).action_runs.map((run) => run.id);

  before(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const status = answers.get(request.url ?? '') ?? 200;
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    harness = await startActionsApiHarness({ secretKey });
    for (const run of seeded) {
      await harness.database.db.query(
        `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status, attempts, created_at, error, finished_at)
         VALUES ($1, $2, $3, 'triggered', 0, 'call-webhook', $4, 1, $5, $6, $7)`,
        [
          run.id,
          run.firing,
          run.automation,
          run.status,
          run.createdAt,
          run.status === 'failed' ? 'gave up after 1 attempt: boom' : null,
          run.status === 'failed' || run.status === 'succeeded' ? '2026-02-01T00:00:00Z' : null,
        ],
      );
    }
  });
  after(async () => {
    await harness.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  async function fire(path: string): Promise<string> {
    const id = randomUUID();
    const context = firingContext({ automation: 'routes-test' });
    await harness.database.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context) VALUES ($1, $2, $3, 'triggered', 0, $4, $5)`,
        [id, context.firing.id, context.automation.name, JSON.stringify({ kind: 'call-webhook', url: `${receiverUrl}${path}`, retry: { attempts: 2, backoff: '50ms', jitter: 0 } }), JSON.stringify(context)],
      );
      await tx.query(`SELECT pg_notify($1, '')`, [notifyChannels.actionOutbox]);
    });
    return id;
  }

  const runStatus = async (id: string) => ((await get(`/api/action-runs/${id}`)).body as ActionRun).status;

  test('pages newest first with a cursor: every run exactly once, ties and microseconds included', async () => {
    for (const limit of [1, 4, 5, 7, 25]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const result = await page(`limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(result.action_runs.length <= limit);
        seen.push(...result.action_runs.map((run) => run.id));
        cursor = result.next;
        pages += 1;
      } while (cursor);
      assert.deepEqual(seen, expectedOrder, `limit=${limit}`);
      assert.equal(pages, Math.ceil(25 / limit), `limit=${limit}: no empty last page`);
    }
    const all = await page('');
    assert.equal(all.action_runs.length, 25, 'the default limit (100) holds them all');
    assert.equal(all.next, undefined);
  });

  test('a cursor keeps its filters: pages of one status', async () => {
    const first = await page('status=failed&limit=3');
    assert.equal(first.action_runs.length, 3);
    const second = await page(`status=failed&limit=3&cursor=${first.next}`);
    assert.equal(second.next, undefined);
    const failed = [...first.action_runs, ...second.action_runs];
    assert.equal(failed.length, 5);
    assert.ok(failed.every((run) => run.status === 'failed' && run.error === 'gave up after 1 attempt: boom'));
  });

  test('filters by status, automation, firing and time range, AND-ed', async () => {
    const expect = (filter: (run: (typeof seeded)[number]) => boolean) =>
      expectedOrder.filter((id) => filter(seeded.find((run) => run.id === id)!));
    assert.deepEqual(await ids('status=succeeded'), expect((run) => run.status === 'succeeded'));
    assert.deepEqual(await ids('automation=seed-b'), expect((run) => run.automation === 'seed-b'));
    assert.deepEqual(await ids(`firing=${firingA}`), expect((run) => run.firing === firingA));
    assert.deepEqual(await ids('since=2026-01-01T00:20:00Z'), expect((run) => run.createdAt >= '2026-01-01T00:20'));
    assert.deepEqual(await ids('since=2026-01-01T00:03:00Z&until=2026-01-01T00:06:00Z'), expect((run) => run.createdAt >= '2026-01-01T00:03' && run.createdAt < '2026-01-01T00:06'));
    assert.deepEqual(await ids('since=2026-01-01T01:20:00%2B01:00'), expect((run) => run.createdAt >= '2026-01-01T00:20'), 'an offset is honoured');
    assert.deepEqual(
      await ids(`status=failed&automation=seed-e&firing=${firingA}`),
      expect((run) => run.status === 'failed' && run.automation === 'seed-e' && run.firing === firingA),
    );
    assert.deepEqual(await ids('automation=nobody'), []);
    assert.deepEqual(await ids(`firing=${randomUUID()}`), []);
  });

  test('bad queries are a 400 naming the parameter', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['limit=1001', 'limit', /at most 1000/],
      ['limit=0', 'limit', /at least 1/],
      ['limit=2.5', 'limit', /whole number/],
      ['limit=many', 'limit', /number/],
      ['status=dead', 'status', /one of queued, running, retrying, succeeded, failed/],
      ['since=yesterday', 'since', /ISO 8601/],
      ['until=2026-01-01T00:00:00', 'until', /time zone/],
      ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'until', /later than since/],
      ['firing=42', 'firing', /UUID/],
      ['automation=', 'automation', /empty/],
      ['cursor=nonsense', 'cursor', /not a cursor/],
      [`cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, 'cursor', /not a cursor/],
      ['state=failed', 'state', /unknown query parameter/],
      ['status=failed&status=queued', 'status', /given once/],
    ];
    for (const [query, parameter, message] of cases) {
      const response = await get(`/api/action-runs?${query}`);
      assert.equal(response.status, 400, `${query}: ${response.text}`);
      const body = response.body as Problem;
      assert.equal(body.error, 'invalid_query');
      assert.match(body.message, new RegExp(`^query parameter ${parameter}: `), query);
      assert.match(body.message, message, query);
    }
    assert.equal((await get('/api/action-runs?limit=1000')).status, 200, 'limit 1000 is allowed');
  });

  test('GET /api/action-runs/{id}: the run, or 404', async () => {
    const run = seeded[4]!;
    const response = await get(`/api/action-runs/${run.id}`);
    assert.equal(response.status, 200);
    const body = response.body as ActionRun;
    assert.equal(body.id, run.id);
    assert.equal(body.firing_id, run.firing);
    assert.equal(body.automation_name, run.automation);
    assert.equal(body.status, 'failed');
    assert.equal(body.kind, 'call-webhook');
    assert.equal(body.created_at, new Date(run.createdAt).toISOString());
    for (const id of [randomUUID(), 'not-a-uuid', '00000000-0000-0000-0000-00000000000g']) {
      const missing = await get(`/api/action-runs/${id}`);
      assert.equal(missing.status, 404, id);
      assert.equal((missing.body as Problem).error, 'not_found');
    }
  });

  test('scopes: read for GET, admin for retry; 401 without a valid key', async () => {
    const id = seeded[4]!.id;
    assert.equal((await harness.request('GET', '/api/action-runs', { key: null })).status, 401);
    assert.equal((await harness.request('GET', `/api/action-runs/${id}`, { key: null })).status, 401);
    assert.equal((await harness.request('POST', `/api/action-runs/${id}/retry`, { key: null })).status, 401);
    assert.equal((await harness.request('GET', '/api/action-runs', { key: 'vk_unknown' })).status, 401);
    assert.equal((await harness.request('GET', '/api/action-runs', { key: harness.writeKey })).status, 403);
    assert.equal((await harness.request('GET', `/api/action-runs/${id}`, { key: harness.writeKey })).status, 403);
    assert.equal((await harness.request('GET', '/api/action-runs', { key: harness.readKey })).status, 200);
    assert.equal((await harness.request('GET', `/api/action-runs/${id}`, { key: harness.readKey })).status, 200);
    const forbidden = await harness.request('POST', `/api/action-runs/${id}/retry`, { key: harness.readKey });
    assert.equal(forbidden.status, 403);
    assert.match((forbidden.body as Problem).message, /lacks the "admin" scope/);
    assert.equal(await runStatus(id), 'failed', 'a forbidden retry changes nothing');
  });

  test('the routes are documented in the OpenAPI description', async () => {
    const response = await harness.request('GET', '/openapi.json', { key: null });
    assert.equal(response.status, 200);
    const paths = (response.body as { paths: Record<string, Record<string, unknown>> }).paths;
    assert.ok(paths['/api/action-runs']?.get);
    assert.ok(paths['/api/action-runs/{id}']?.get);
    assert.ok(paths['/api/action-runs/{id}/retry']?.post);
    assert.ok(paths['/api/connections']?.get);
    assert.deepEqual(Object.keys(paths['/api/connections/{name}'] ?? {}).sort(), ['delete', 'get', 'put']);
  });

  test('a dead-lettered run is listed with its reason, retried (202) and then succeeds', async () => {
    answers.set('/flaky', 400);
    const id = await fire('/flaky');
    await waitFor('the run to fail', async () => (await runStatus(id)) === 'failed');
    const failed = await page('status=failed&automation=routes-test');
    assert.deepEqual(failed.action_runs.map((run) => run.id), [id]);
    assert.match(failed.action_runs[0]!.error ?? '', /HTTP 400/);
    assert.equal(failed.action_runs[0]!.response_status, 400);
    assert.equal(failed.action_runs[0]!.attempts, 1, 'a 4xx is not retried');

    answers.set('/flaky', 200);
    const retried = await harness.request('POST', `/api/action-runs/${id}/retry`);
    assert.equal(retried.status, 202, retried.text);
    assert.equal((retried.body as ActionRun).id, id);
    assert.ok(['queued', 'running', 'succeeded'].includes((retried.body as ActionRun).status));
    await waitFor('the retried run to succeed', async () => (await runStatus(id)) === 'succeeded');
    const run = (await get(`/api/action-runs/${id}`)).body as ActionRun;
    assert.equal(run.attempts, 2);
    assert.equal(run.response_status, 200);
    assert.equal(run.error, null);

    const again = await harness.request('POST', `/api/action-runs/${id}/retry`);
    assert.equal(again.status, 409);
    assert.equal((again.body as Problem).error, 'not_failed');
    assert.match((again.body as Problem).message, /is succeeded; only failed/);
  });

  test('retry: 404 for an unknown run, 409 for runs that are not failed or whose job expired', async () => {
    for (const id of [randomUUID(), 'nope']) {
      const response = await harness.request('POST', `/api/action-runs/${id}/retry`);
      assert.equal(response.status, 404, id);
    }
    const queued = seeded.find((run) => run.status === 'queued')!;
    const notFailed = await harness.request('POST', `/api/action-runs/${queued.id}/retry`);
    assert.equal(notFailed.status, 409);
    assert.equal((notFailed.body as Problem).error, 'not_failed');
    assert.equal(await runStatus(queued.id), 'queued');

    // A seeded failed run has neither a dead letter in the queue nor an outbox row.
    const expired = seeded.find((run) => run.status === 'failed')!;
    const response = await harness.request('POST', `/api/action-runs/${expired.id}/retry`);
    assert.equal(response.status, 409, response.text);
    assert.equal((response.body as Problem).error, 'retry_expired');
    const run = (await get(`/api/action-runs/${expired.id}`)).body as ActionRun;
    assert.equal(run.status, 'failed', 'the run stays in the dead-letter list');
    assert.equal(run.finished_at, '2026-02-01T00:00:00.000Z', 'with its finish time');

    // A failed run whose job the queue still holds outside the dead letters (here: delayed) is not re-enqueued.
    const held = seeded.filter((candidate) => candidate.status === 'failed')[1]!;
    await harness.queue!.enqueue([{ id: held.id, data: {}, policy: { attempts: 1, backoffMs: 0, maxBackoffMs: 0, maxAgeMs: 3_600_000, jitter: 0 }, delayMs: 3_600_000 }]);
    const conflict = await harness.request('POST', `/api/action-runs/${held.id}/retry`);
    assert.equal(conflict.status, 409, conflict.text);
    assert.equal((conflict.body as Problem).error, 'retry_conflict');
    assert.equal(await runStatus(held.id), 'failed');
  });

  test('a failed run whose dead letter left the queue is retried from its outbox row', async () => {
    answers.set('/gone', 400);
    const id = await fire('/gone');
    await waitFor('the run to fail', async () => (await runStatus(id)) === 'failed');
    // Drop the dead letter from Redis, as its retention would.
    await waitFor('the dead letter', async () => (await harness.queue!.state(id)) === 'dead');
    assert.ok((await harness.queue!.deadLetters()).some((letter) => letter.id === id));
    const queue = new Queue('actions', { connection: redisConnection(), prefix: harness.queuePrefix! });
    try {
      await queue.remove(id);
    } finally {
      await queue.close();
    }
    assert.equal(await harness.queue!.state(id), undefined);

    answers.set('/gone', 200);
    const response = await harness.request('POST', `/api/action-runs/${id}/retry`);
    assert.equal(response.status, 202, response.text);
    await waitFor('the run to succeed', async () => (await runStatus(id)) === 'succeeded');
  });

});
