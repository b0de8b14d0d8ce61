import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKeys } from '../../api/api-keys.ts';
import { runDryRunRequest } from '../../api/automations/dry-run-request.ts';
import { createEventHistory } from '../../history/event-history.ts';
import { HttpError } from '../../platform/http/http-error.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startDeadlineTimer, type DeadlineTimer } from '../../triggers/deadline-timer.ts';
import { startTriggerEvaluator, type TriggerEvaluator } from '../../triggers/evaluator.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * The automations control plane over the real HTTP app, PostgreSQL and Kafka: every route,
 * upsert semantics, scopes, bad input (status + path), dry runs against event lists and the
 * stored history, and firings written by the real trigger evaluator and deadline timer.
 */

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string; index?: number }>;
}

interface Stored {
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: Record<string, unknown>;
  actions: unknown[];
  actions_on_resolve: unknown[];
  version: number;
  created_at: string;
  updated_at: string;
}

interface TestFiring {
  state: 'triggered' | 'resolved';
  at: string;
  triggered_at: string;
  resolved_at?: string;
  resolved_by?: string;
  deadline?: string;
  for_each: Record<string, string>;
  window: { start: string; end: string };
  count: number;
  event_ids: string[];
}

interface TestResult {
  fired: number;
  resolved: number;
  firings: TestFiring[];
  explanations: Array<{ event_id: string; matched: boolean; clauses: Array<{ clause: string; matched: boolean; detail: string }> }>;
  events: number;
  matched: number;
  duplicates: number;
  clock: { start: string; end: string };
  explanations_not_listed?: number;
}

interface FiringsPage {
  firings: Array<{ id: string; status: string; triggered_at: string; resolved_at: string | null; for_each: Record<string, string>; count: number; deadline: string | null; event_ids: string[]; window: { start: string; end: string } }>;
  next?: string;
}

interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

let harness: IngestHarness;
let readKey: string;
let writeKey: string;

async function call<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null; contentType?: string; raw?: string | Buffer } = {},
): Promise<Reply<T>> {
  const key = options.key === undefined ? harness.adminKey : options.key;
  const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(`${harness.url}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(payload !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
    },
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T, headers: response.headers };
}

/** Asserts a 4xx problem: its status, code, and that one of its errors has `path`. */
function assertProblem(reply: Reply<unknown>, status: number, code: string, path?: string): void {
  const problem = reply.body as Problem;
  assert.equal(reply.status, status, JSON.stringify(problem));
  assert.equal(problem.error, code, JSON.stringify(problem));
  assert.equal(typeof problem.message, 'string');
  if (path !== undefined) {
    assert.ok(problem.errors?.some((error) => error.path === path), `expected an error at path ${JSON.stringify(path)}, got ${JSON.stringify(problem.errors)}`);
  }
}

const failures = { type: 'event', expect: ['job.failed'], threshold: 3, within: '1h' };
const salesSla = { type: 'deadline', expect: ['sales.refreshed'], match: { id: 'dbt.model.sales' }, by: '0 9 * * *', timezone: 'Europe/Berlin' };
const notify = (text: string) => ({ kind: 'send-notification', connection: 'slack-oncall', text });

/** Rows a dry run must never write, for the given automation names. */
async function writtenRows(names: readonly string[]): Promise<number> {
  const [row] = await harness.database.db.query<{ n: bigint }>(
    `SELECT (SELECT count(*) FROM trigger_state WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM firings WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM action_outbox WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM event_outbox WHERE event->'payload'->>'automation' = ANY($1)) AS n`,
    [names],
  );
  return Number(row!.n);
}

before(async () => {
  harness = await startIngestHarness();
  const keys = createApiKeys(harness.database.db);
  readKey = (await keys.create('reader', ['read'])).secret;
  writeKey = (await keys.create('emitter', ['events:write'])).secret;
});

after(async () => {
  await harness.close();
});

describe('automations: create, read, upsert, patch, delete', () => {
  test('PUT creates (201), repeats without a change (200, changed false, no version bump, no NOTIFY), and replaces (version + 1)', async () => {
    const notified: string[] = [];
    const unlisten = await harness.database.db.listen('vigil_automations', (payload) => notified.push(payload));
    try {
      const document = { description: 'three failures in an hour', tags: ['team-data'], trigger: failures, actions: [notify('{{ automation.name }} fired')] };
      const created = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', document);
      assert.equal(created.status, 201);
      assert.deepEqual([created.body.created, created.body.changed], [true, true]);
      const stored = created.body.automation;
      assert.equal(stored.name, 'job-failures', 'the name defaults to the path');
      assert.equal(stored.version, 1);
      assert.equal(stored.enabled, true);
      assert.deepEqual(stored.actions_on_resolve, []);
      assert.equal((stored.trigger as { posture: string }).posture, 'reactive', 'defaults are filled in');
      assert.ok(!Number.isNaN(Date.parse(stored.created_at)) && !Number.isNaN(Date.parse(stored.updated_at)));

      const again = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', { ...document, name: 'job-failures' });
      assert.equal(again.status, 200);
      assert.deepEqual([again.body.created, again.body.changed], [false, false]);
      assert.equal(again.body.automation.version, 1);
      assert.equal(again.body.automation.updated_at, stored.updated_at);

      const changed = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', { ...document, description: 'changed' });
      assert.equal(changed.status, 200);
      assert.deepEqual([changed.body.created, changed.body.changed], [false, true]);
      assert.equal(changed.body.automation.version, 2);
      assert.equal(changed.body.automation.description, 'changed');

      // Notifications arrive in commit order: once the replacement's is in, the unchanged PUT would have been seen.
      await waitFor('two notifications', () => notified.length >= 2);
      assert.deepEqual(notified, ['job-failures', 'job-failures'], 'one NOTIFY for the creation, one for the change, none for the repeat');
    } finally {
      await unlisten();
    }
  });

  test('GET one and the list, filtered by tag and enabled', async () => {
    const one = await call<Stored>('GET', '/api/automations/job-failures');
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'job-failures');
    assert.deepEqual(Object.keys(one.body).sort(), ['actions', 'actions_on_resolve', 'created_at', 'description', 'enabled', 'name', 'tags', 'trigger', 'updated_at', 'version']);

    assert.equal((await call('PUT', '/api/automations/paused-sla', { trigger: salesSla, enabled: false, tags: ['sla'] })).status, 201);
    const all = await call<{ automations: Stored[] }>('GET', '/api/automations');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.automations.map((a) => a.name), ['job-failures', 'paused-sla']);
    const tagged = await call<{ automations: Stored[] }>('GET', '/api/automations?tag=sla');
    assert.deepEqual(tagged.body.automations.map((a) => a.name), ['paused-sla']);
    const enabled = await call<{ automations: Stored[] }>('GET', '/api/automations?enabled=true');
    assert.deepEqual(enabled.body.automations.map((a) => a.name), ['job-failures']);
    const paused = await call<{ automations: Stored[] }>('GET', '/api/automations?enabled=false&tag=sla');
    assert.deepEqual(paused.body.automations.map((a) => a.name), ['paused-sla']);
    assert.deepEqual((await call<{ automations: Stored[] }>('GET', '/api/automations?tag=nothing')).body.automations, []);
  });

  test('POST creates (201 + Location) and never replaces (409 already_exists)', async () => {
    const document = { name: 'created-by-post', trigger: { type: 'event', expect: ['x.happened'] } };
    const created = await call<Stored>('POST', '/api/automations', document);
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/api/automations/created-by-post');
    assert.equal(created.body.name, 'created-by-post');
    assert.equal(created.body.version, 1);
    const conflict = await call('POST', '/api/automations', { ...document, description: 'another' });
    assertProblem(conflict, 409, 'already_exists');
    assert.equal((await call<Stored>('GET', '/api/automations/created-by-post')).body.description, '', 'the stored one is untouched');
  });

  test('PATCH pauses, resumes and edits description and tags; an unchanged patch writes nothing', async () => {
    const before = (await call<Stored>('GET', '/api/automations/job-failures')).body;
    const paused = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: false });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.enabled, false);
    assert.equal(paused.body.version, before.version + 1);
    const repeat = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: false });
    assert.equal(repeat.body.version, paused.body.version, 'no version bump for a patch that changes nothing');

    const edited = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: true, description: 'edited', tags: ['a', 'b'] });
    assert.equal(edited.status, 200);
    assert.deepEqual([edited.body.enabled, edited.body.description, edited.body.tags], [true, 'edited', ['a', 'b']]);
    assert.deepEqual(edited.body.trigger, before.trigger, 'the rest of the document is kept');
    const [row] = await harness.database.db.query<{ enabled: boolean; definition: { enabled: boolean; description: string } }>('SELECT enabled, definition FROM automations WHERE name = $1', ['job-failures']);
    assert.deepEqual([row!.enabled, row!.definition.enabled, row!.definition.description], [true, true, 'edited'], 'column and document agree');

    // PUT of the edited document is a no-op: the patch stored exactly what a PUT would.
    const { version: _v, created_at: _c, updated_at: _u, ...document } = edited.body;
    const put = await call<{ changed: boolean }>('PUT', '/api/automations/job-failures', document);
    assert.equal(put.body.changed, false);
  });

  test('DELETE: 204, then 404', async () => {
    assert.equal((await call('DELETE', '/api/automations/created-by-post')).status, 204);
    assertProblem(await call('DELETE', '/api/automations/created-by-post'), 404, 'not_found');
    assertProblem(await call('GET', '/api/automations/created-by-post'), 404, 'not_found');
  });

  test('validate: the normalized automation, or every problem by path; nothing is saved', async () => {
    const valid = await call<{ valid: boolean; automation: Stored }>('POST', '/api/automations/validate', { name: 'draft', trigger: salesSla, actions_on_resolve: [notify('recovered')] });
    assert.equal(valid.status, 200);
    assert.equal(valid.body.valid, true);
    assert.equal(valid.body.automation.enabled, true);
    assert.equal((valid.body.automation.trigger as { grace: string }).grace, '0s');
    assertProblem(await call('GET', '/api/automations/draft'), 404, 'not_found');

    const invalid = await call<Problem>('POST', '/api/automations/validate', { name: 'draft', trigger: { ...failures, within: '0s' }, actions: [notify('{{ unclosed')] });
    assertProblem(invalid, 422, 'invalid_automation', 'trigger.within');
    assert.ok(invalid.body.errors!.some((e) => e.path === 'actions[0].text' && /Liquid/.test(e.message)));
  });
});

describe('scopes', () => {
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/api/automations'],
    ['GET', '/api/automations/job-failures'],
    ['POST', '/api/automations', { name: 'scoped', trigger: failures }],
    ['PUT', '/api/automations/scoped', { trigger: failures }],
    ['PATCH', '/api/automations/job-failures', { enabled: false }],
    ['DELETE', '/api/automations/job-failures'],
    ['POST', '/api/automations/validate', { name: 'scoped', trigger: failures }],
    ['POST', '/api/automations/job-failures/test', { events: [{ event: 'job.failed', resource: { id: 'r' } }] }],
    ['GET', '/api/automations/job-failures/firings'],
  ];
  const readable = new Set(['GET /api/automations', 'GET /api/automations/job-failures', 'POST /api/automations/validate', 'POST /api/automations/job-failures/test', 'GET /api/automations/job-failures/firings']);

  test('401 without a key or with an unknown one, on every route', async () => {
    for (const [method, path, body] of routes) {
      assertProblem(await call(method, path, body, { key: null }), 401, 'unauthorized');
      assertProblem(await call(method, path, body, { key: 'vk_not-a-key' }), 401, 'unauthorized');
    }
  });

  test('read: reads, validates and tests; 403 on writes. events:write: 403 everywhere', async () => {
    for (const [method, path, body] of routes) {
      const asReader = await call(method, path, body, { key: readKey });
      if (readable.has(`${method} ${path}`)) assert.equal(asReader.status, 200, `${method} ${path}: ${JSON.stringify(asReader.body)}`);
      else assertProblem(asReader, 403, 'forbidden');
      assertProblem(await call(method, path, body, { key: writeKey }), 403, 'forbidden');
    }
    assert.equal((await call<Stored>('GET', '/api/automations/job-failures')).body.enabled, true, 'the forbidden PATCH changed nothing');
  });
});

describe('bad input: a 4xx naming the problem, never a 500', () => {
  const automationCases: Array<[string, Record<string, unknown>, string]> = [
    ['unknown top-level field', { trigger: failures, colour: 'red' }, 'colour'],
    ['unknown trigger field', { trigger: { ...failures, treshold: 3 } }, 'trigger.treshold'],
    ['bad event-name glob', { trigger: { ...failures, expect: ['job failed'] } }, 'trigger.expect[0]'],
    ['unknown JSON Logic operator', { trigger: { ...failures, where: { eval: ['1+1'] } } }, 'trigger.where.eval'],
    ['impossible window', { trigger: { ...failures, within: '0s' } }, 'trigger.within'],
    ['window over 90 days', { trigger: { ...failures, within: '100d' } }, 'trigger.within'],
    ['threshold without a window', { trigger: { type: 'event', expect: ['a'], threshold: 2 } }, 'trigger.within'],
    ['bad duration', { trigger: { ...failures, within: 'soon' } }, 'trigger.within'],
    ['bad template', { trigger: failures, actions: [notify('{% if %}')] }, 'actions[0].text'],
    ['include tag in a template', { trigger: failures, actions: [{ kind: 'call-webhook', url: 'https://x.test', body: { a: ['{% include "x" %}'] } }] }, 'actions[0].body.a[0]'],
    ['unknown action kind', { trigger: failures, actions: [{ kind: 'launch-rocket' }] }, 'actions[0].kind'],
    ['bad time zone', { trigger: { ...salesSla, timezone: 'Mars/Olympus' } }, 'trigger.timezone'],
    ['bad cron', { trigger: { ...salesSla, by: '0 25 * * *' } }, 'trigger.by'],
    ['grace longer than the window', { trigger: { ...salesSla, grace: '2d' } }, 'trigger.grace'],
    ['resolve actions on a reactive trigger', { trigger: failures, actions_on_resolve: [notify('x')] }, 'actions_on_resolve'],
    ['wrong type', { trigger: failures, enabled: 'yes' }, 'enabled'],
    ['missing trigger', {}, 'trigger'],
  ];

  test('PUT, POST and validate reject invalid automations with 422 and the path', async () => {
    for (const [what, document, path] of automationCases) {
      const put = await call('PUT', '/api/automations/bad-one', document);
      assertProblem(put, 422, 'invalid_automation', path);
      assertProblem(await call('POST', '/api/automations', { name: 'bad-one', ...document }), 422, 'invalid_automation', path);
      assertProblem(await call('POST', '/api/automations/validate', { name: 'bad-one', ...document }), 422, 'invalid_automation', path);
      assert.ok((put.body as Problem).message.includes(path), `${what}: the message names the path`);
    }
    assertProblem(await call('GET', '/api/automations/bad-one'), 404, 'not_found');
  });

  test('names: a body name other than the path, an impossible name', async () => {
    assertProblem(await call('PUT', '/api/automations/one-name', { name: 'another-name', trigger: failures }), 422, 'invalid_automation', 'name');
    assertProblem(await call('PUT', '/api/automations/bad!name', { trigger: failures }), 422, 'invalid_automation', 'name');
    assertProblem(await call('PUT', '/api/automations/-leading-dash', { trigger: failures }), 422, 'invalid_automation', 'name');
    // The router refuses path parameters longer than 100 characters before any route runs (fastify's maxParamLength).
    const long = await call('PUT', `/api/automations/${'x'.repeat(200)}`, { trigger: failures });
    assert.ok(long.status >= 400 && long.status < 500, `a 4xx for an over-long name, got ${long.status}`);
    assertProblem(await call('PUT', '/api/automations/has%20space', { trigger: failures }), 422, 'invalid_automation', 'name');
    assertProblem(await call('POST', '/api/automations', { trigger: failures }), 422, 'invalid_automation', 'name');
  });

  test('bodies: malformed JSON 400, wrong content type 415, not an object 422, hostile keys 400', async () => {
    for (const [method, path] of [
      ['PUT', '/api/automations/x'],
      ['POST', '/api/automations'],
      ['POST', '/api/automations/validate'],
      ['PATCH', '/api/automations/job-failures'],
      ['POST', '/api/automations/job-failures/test'],
    ] as const) {
      assertProblem(await call(method, path, undefined, { raw: '{"name": "x", ' }), 400, 'malformed_json');
      assertProblem(await call(method, path, undefined, { raw: '' , contentType: 'application/json' }), 400, 'malformed_json');
      assertProblem(await call(method, path, undefined, { raw: '{"name": "x"}', contentType: 'text/plain' }), 415, 'unsupported_media_type');
      assertProblem(await call(method, path, undefined, { raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 400, 'invalid_encoding');
      assertProblem(await call(method, path, undefined, { raw: '{"__proto__": {"admin": true}}' }), 400, 'forbidden_key');
      const array = await call(method, path, [1, 2]);
      assert.equal(array.status, 422, `${method} ${path} with an array`);
    }
    assert.equal((await call('PUT', '/api/automations/x', undefined, { raw: JSON.stringify({ trigger: failures }), contentType: 'application/vnd.vigil+json; charset=utf-8' })).status, 201, '+json types are JSON');
    assert.equal((await call('DELETE', '/api/automations/x')).status, 204);
  });

  test('PATCH: unknown fields, wrong types, an empty patch', async () => {
    assertProblem(await call('PATCH', '/api/automations/job-failures', { enabled: false, trigger: failures }), 422, 'invalid_patch', 'trigger');
    assertProblem(await call('PATCH', '/api/automations/job-failures', { enabled: 'no' }), 422, 'invalid_patch', 'enabled');
    assertProblem(await call('PATCH', '/api/automations/job-failures', { tags: ['ok', ''] }), 422, 'invalid_patch', 'tags[1]');
    assertProblem(await call('PATCH', '/api/automations/job-failures', {}), 422, 'invalid_patch', '');
    assertProblem(await call('PATCH', '/api/automations/no-such-automation', { enabled: false }), 404, 'not_found');
  });

  test('unknown names are 404 on every route', async () => {
    assertProblem(await call('GET', '/api/automations/no-such-automation'), 404, 'not_found');
    assertProblem(await call('DELETE', '/api/automations/no-such-automation'), 404, 'not_found');
    assertProblem(await call('GET', '/api/automations/no-such-automation/firings'), 404, 'not_found');
    assertProblem(await call('POST', '/api/automations/no-such-automation/test', { events: [{ event: 'a', resource: { id: 'r' } }] }), 404, 'not_found');
    assertProblem(await call('GET', `/api/automations/${encodeURIComponent('../../etc/passwd')}`), 404, 'not_found');
  });

  test('query parameters: 400 naming the parameter', async () => {
    assertProblem(await call('GET', '/api/automations?enabled=maybe'), 400, 'invalid_query', 'enabled');
    assertProblem(await call('GET', '/api/automations?colour=red'), 400, 'invalid_query', 'colour');
    assertProblem(await call('GET', '/api/automations?tag=a&tag=b'), 400, 'invalid_query', 'tag');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?status=exploded'), 400, 'invalid_query', 'status');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?limit=0'), 400, 'invalid_query', 'limit');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?limit=many'), 400, 'invalid_query', 'limit');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?since=yesterday'), 400, 'invalid_query', 'since');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z'), 400, 'invalid_query', 'until');
    assertProblem(await call('GET', '/api/automations/job-failures/firings?cursor=bm9wZQ'), 400, 'invalid_query', 'cursor');
  });

  test('dry-run requests: the path of each problem', async () => {
    const test = (body: unknown) => call('POST', '/api/automations/job-failures/test', body);
    const event = { event: 'job.failed', resource: { id: 'r' } };
    assertProblem(await test({}), 422, 'invalid_test_request', '');
    assertProblem(await test({ events: [event], since: '2026-01-01T00:00:00Z' }), 422, 'invalid_test_request', 'since');
    assertProblem(await test({ since: '2026-01-01T00:00:00Z' }), 422, 'invalid_test_request', 'until');
    assertProblem(await test({ until: '2026-01-01T00:00:00Z' }), 422, 'invalid_test_request', 'since');
    assertProblem(await test({ since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }), 422, 'invalid_test_request', 'until');
    assertProblem(await test({ since: 'last tuesday', until: '2026-01-01T00:00:00Z' }), 422, 'invalid_test_request', 'since');
    assertProblem(await test({ events: [] }), 422, 'invalid_test_request', 'events');
    assertProblem(await test({ events: event }), 422, 'invalid_test_request', 'events');
    assertProblem(await test({ events: [event], dry: true }), 422, 'invalid_test_request', 'dry');
    assertProblem(await test({ events: Array.from({ length: 10_001 }, () => event) }), 422, 'invalid_test_request', 'events');
    const badEvents = await test({ events: [event, { event: 'job.failed', resource: {} }, { ...event, occurred: 'noon' }, { ...event, related: [{ id: 'x' }] }] });
    assertProblem(badEvents, 422, 'invalid_events', 'events[1].resource.id');
    assert.ok((badEvents.body as Problem).errors!.some((e) => e.path === 'events[2].occurred'));
    assert.ok((badEvents.body as Problem).errors!.some((e) => e.path === 'events[3].related[0].role'));
    assertProblem(await test({ events: [event], automation: { trigger: { ...failures, within: '0s' } } }), 422, 'invalid_automation', 'automation.trigger.within');
    assertProblem(await test({ events: [event], automation: { name: 'other', trigger: failures } }), 422, 'invalid_automation', 'automation.name');
    assertProblem(await test({ events: [event], automation: 'not an automation' }), 422, 'invalid_test_request', 'automation');
  });
});

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

describe('OpenAPI', () => {
  test('every route is documented under the automations tag, with resolvable schemas', async () => {
    const document = (await (await fetch(`${harness.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; requestBody?: unknown; responses?: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const expected: Array<[string, string]> = [
      ['/api/automations', 'get'],
      ['/api/automations', 'post'],
      ['/api/automations/validate', 'post'],
      ['/api/automations/{name}', 'get'],
      ['/api/automations/{name}', 'put'],
      ['/api/automations/{name}', 'patch'],
      ['/api/automations/{name}', 'delete'],
      ['/api/automations/{name}/test', 'post'],
      ['/api/automations/{name}/firings', 'get'],
    ];
    for (const [path, method] of expected) {
      const operation = document.paths[path]?.[method];
      assert.ok(operation, `${method} ${path}`);
      assert.deepEqual(operation.tags, ['automations']);
      assert.ok(operation.summary);
      assert.ok(operation.responses && Object.keys(operation.responses).some((code) => code.startsWith('2')));
    }
    assert.ok(document.paths['/api/automations/{name}']!['put']!.requestBody);
    for (const ref of JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(document.components.schemas[ref[1]!], `dangling $ref ${ref[1]}`);
    }
  });
});
