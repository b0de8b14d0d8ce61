import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Firing } from '../../schemas/api-resources.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';

/*
 * GET /api/firings over the real HTTP app and PostgreSQL: the firings of every automation,
 * newest first (triggered_at, then id), filtered by automation, status and time, in keyset
 * pages that neither skip nor repeat a firing; every bad parameter a 400 naming it.
 * The firings are arranged in the table the trigger evaluator writes (its own tests cover how
 * they come about; GET /api/automations/{name}/firings is covered with the real evaluator).
 */

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

interface Page {
  firings: Firing[];
  next?: string;
}

interface Arranged {
  id: string;
  automation: string;
  status: 'triggered' | 'resolved';
  triggeredAt: string;
}

describe('GET /api/firings', () => {
  let harness: ActionsApiHarness;
  const arranged: Arranged[] = [];

  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, queue: false });
    const rows: Array<[string, 'triggered' | 'resolved', string]> = [
      ['sales-sla', 'resolved', '2026-11-20T08:00:00.000Z'],
      ['dag-failures', 'triggered', '2026-11-20T09:30:00.000Z'],
      ['sales-sla', 'triggered', '2026-11-21T08:00:00.000Z'],
      ['dag-failures', 'resolved', '2026-11-21T08:00:00.000Z'], // same time as the one before: ordered by id
      ['heartbeat', 'triggered', '2026-11-22T07:00:00.123456Z'],
      ['dag-failures', 'triggered', '2026-11-22T07:00:00.123457Z'], // a microsecond later
    ];
    for (const [automation, status, triggeredAt] of rows) {
      const id = randomUUID();
      arranged.push({ id, automation, status, triggeredAt });
      await harness.database.db.query(
        `INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, resolved_at, window_start, window_end, deadline, event_count, event_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $6, $8, 2, $9)`,
        [id, automation, `k-${id}`, JSON.stringify({ 'resource.id': `res.${automation}` }), status, triggeredAt, status === 'resolved' ? '2026-11-23T00:00:00Z' : null, automation === 'sales-sla' ? triggeredAt : null, JSON.stringify(['e1', 'e2'])],
      );
    }
  });
  after(async () => {
    await harness?.close();
  });

  /** The arranged firings in the API's order: newest triggered_at first, then the greater id. */
  const expectedOrder = (list: readonly Arranged[]) =>
    [...list].sort((a, b) => (a.triggeredAt === b.triggeredAt ? (a.id < b.id ? 1 : -1) : a.triggeredAt < b.triggeredAt ? 1 : -1)).map((firing) => firing.id);

  async function get(query: string, key?: string): Promise<{ status: number; body: unknown }> {
    const response = await harness.request('GET', `/api/firings${query}`, key === undefined ? {} : { key });
    return { status: response.status, body: response.body };
  }

  async function all(query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const separator = query ? '&' : '?';
      const response = await get(`${query}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const page = response.body as Page;
      ids.push(...page.firings.map((firing) => firing.id));
      cursor = page.next;
      pages++;
    } while (cursor !== undefined);
    return { ids, pages };
  }

  test('every automation\'s firings, newest first, with the automation named; the same in pages of any size', async () => {
    const response = await get('');
    assert.equal(response.status, 200);
    const page = response.body as Page;
    assert.equal(page.next, undefined);
    assert.deepEqual(page.firings.map((firing) => firing.id), expectedOrder(arranged));
    const first = page.firings[0]!;
    assert.equal(first.automation_name, 'dag-failures');
    assert.equal(first.triggered_at, '2026-11-22T07:00:00.123Z');
    assert.deepEqual(first.for_each, { 'resource.id': 'res.dag-failures' });
    assert.deepEqual(first.event_ids, ['e1', 'e2']);
    assert.equal(first.count, 2);
    for (const limit of [1, 2, 4]) {
      const paged = await all('', limit);
      assert.deepEqual(paged.ids, expectedOrder(arranged), `pages of ${limit}`);
      assert.equal(paged.pages, Math.ceil(arranged.length / limit), 'no empty last page');
    }
  });

  test('filters: automation, status, since (inclusive) and until (exclusive), AND-ed, also across pages', async () => {
    const cases: Array<[string, (firing: Arranged) => boolean]> = [
      ['?automation=dag-failures', (f) => f.automation === 'dag-failures'],
      ['?status=triggered', (f) => f.status === 'triggered'],
      ['?status=resolved&automation=sales-sla', (f) => f.status === 'resolved' && f.automation === 'sales-sla'],
      ['?since=2026-11-21T08:00:00Z', (f) => f.triggeredAt >= '2026-11-21T08:00:00.000Z'],
      ['?until=2026-11-21T08:00:00Z', (f) => f.triggeredAt < '2026-11-21T08:00:00.000Z'],
      ['?since=2026-11-21T09:00:00%2B01:00&until=2026-11-22T07:00:00.124Z&status=triggered', (f) => f.triggeredAt >= '2026-11-21T08:00:00.000Z' && f.triggeredAt < '2026-11-22T07:00:00.124Z' && f.status === 'triggered'],
      ['?since=2026-11-20T09:00:00Z&until=2026-11-22T07:00:00Z&status=resolved', (f) => f.triggeredAt >= '2026-11-20T09:00:00.000Z' && f.triggeredAt < '2026-11-22T07:00:00.000Z' && f.status === 'resolved'],
      ['?automation=nobody', () => false],
    ];
    for (const [query, keep] of cases) {
      const expected = expectedOrder(arranged.filter(keep));
      assert.deepEqual((await all(query, 1)).ids, expected, query);
      const one = await get(query);
      assert.deepEqual((one.body as Page).firings.map((firing) => firing.id), expected, query);
    }
  });

  test('bad parameters are a 400 naming the parameter; nothing else is accepted', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['?state=triggered', 'state', /unknown query parameter/],
      ['?status=firing', 'status', /must be triggered or resolved/],
      ['?since=yesterday', 'since', /ISO 8601/],
      ['?until=2026-11-22', 'until', /ISO 8601/],
      ['?since=2026-11-22T00:00:00Z&until=2026-11-21T00:00:00Z', 'until', /later than since/],
      ['?limit=0', 'limit', /at least 1/],
      ['?limit=1001', 'limit', /at most 1000/],
      ['?limit=ten', 'limit', /whole number/],
      ['?cursor=bm90LWEtY3Vyc29y', 'cursor', /not a cursor returned by this API/],
      ['?automation=', 'automation', /must not be empty/],
      ['?automation=a&automation=b', 'automation', /must be given once/],
    ];
    for (const [query, path, message] of cases) {
      const response = await get(query);
      assert.equal(response.status, 400, query);
      const problem = response.body as Problem;
      assert.equal(problem.error, 'invalid_query', query);
      assert.equal(problem.errors?.[0]?.path, path, query);
      assert.match(problem.errors[0].message, message, query);
      assert.match(problem.message, new RegExp(`^query parameter ${path}: `), query);
    }
  });

  test('read scope: 401 without a key, 403 for an events:write key, 200 for read', async () => {
    assert.equal((await get('', 'vk_unknown')).status, 401);
    assert.equal((await harness.request('GET', '/api/firings', { key: null })).status, 401);
    assert.equal((await get('', harness.writeKey)).status, 403);
    assert.equal((await get('', harness.readKey)).status, 200);
  });

  test('the OpenAPI document declares the parameters and answers', async () => {
    const document = (await harness.request('GET', '/openapi.json')).body as { paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string }>; responses?: Record<string, unknown> } }> };
    const operation = document.paths['/api/firings']?.get;
    assert.ok(operation, 'GET /api/firings is documented');
    assert.deepEqual(operation.parameters?.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name).sort(), ['automation', 'cursor', 'limit', 'since', 'status', 'until']);
    assert.deepEqual(Object.keys(operation.responses ?? {}).sort(), ['200', '400', '401', '403', '429']);
  });
});
