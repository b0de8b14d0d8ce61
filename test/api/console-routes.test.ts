import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createApiKeys } from '../../api/api-keys.ts';
import { registerAutomationRoutes } from '../../api/automations-routes.ts';
import { consoleDirectory, registerConsoleRoutes } from '../../api/console-routes.ts';
import { buildServer } from '../../api/server.ts';
import { registerTriggerStatusRoutes } from '../../api/trigger-status-routes.ts';
import { registerWhoAmIRoute } from '../../api/whoami-route.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { validateAutomation, type Automation } from '../../schemas/automation.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { triggerHash } from '../../triggers/firing-records.ts';
import { compileTriggerProgram } from '../../triggers/trigger-program.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

/*
 * The routes the console needs, over the real HTTP app and PostgreSQL: the console at `/`
 * (built by scripts/env.sh), GET /api/whoami, POST /api/automations/{name}/explain and
 * GET /api/trigger-status with window state made by the trigger programs themselves.
 */

const adminKey = 'console-routes-admin-key-0123456789';

describe('console routes', () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  let readKey: string;
  let writeKey: string;

  before(async () => {
    database = await createTestDatabase();
    const apiKeys = createApiKeys(database.db, { adminKey });
    readKey = (await apiKeys.create('viewer', ['read'])).secret;
    writeKey = (await apiKeys.create('emitter', ['events:write'])).secret;
    app = await buildServer({
      logger: createLogger('silent'),
      metrics: createMetrics(),
      apiKeys,
      rateLimitPerMinute: 10_000,
      readiness: [],
      routes: [
        (server) => registerAutomationRoutes(server, database.db),
        (server) => registerTriggerStatusRoutes(server, database.db),
        registerWhoAmIRoute,
        (server) => registerConsoleRoutes(server),
      ],
    });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await database?.drop();
  });

  const call = async (method: 'GET' | 'POST', url: string, key: string | null, body?: unknown) => {
    const response = await app.inject({
      method,
      url,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: response.statusCode, headers: response.headers, text: response.body, json: () => JSON.parse(response.body) as Record<string, unknown> };
  };

  test('the console is served at / with a strict CSP; hashed assets are cached for good', async () => {
    assert.ok(existsSync(join(consoleDirectory, 'index.html')), 'scripts/env.sh builds console/dist');
    const index = await call('GET', '/', null);
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /text\/html/);
    assert.match(String(index.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const script = /src="(\/assets\/console-[A-Z0-9]+\.js)"/.exec(index.text);
    assert.ok(script, index.text);
    const asset = await call('GET', script[1]!, null);
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    assert.match(String(asset.headers['cache-control']), /immutable/);
    const compressed = await app.inject({ method: 'GET', url: script[1]!, headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(compressed.headers['content-encoding'], 'br');
    assert.ok(compressed.rawPayload.length < asset.text.length / 2, 'sent brotli-compressed as built');
    assert.ok(readdirSync(join(consoleDirectory, 'assets')).some((file) => file.endsWith('.css')));
    // no CDN: nothing in the page or the bundle loads from another origin
    assert.doesNotMatch(index.text, /https?:\/\//);
    assert.equal((await call('GET', '/no-such-file.js', null)).status, 404);
  });

  test('the new routes are in the OpenAPI document; the console is not', async () => {
    const document = (await call('GET', '/openapi.json', null)).json() as { paths: Record<string, Record<string, unknown>> };
    assert.ok(document.paths['/api/trigger-status']?.['get']);
    assert.ok(document.paths['/api/whoami']?.['get']);
    assert.ok(document.paths['/api/automations/match']?.['post']);
    assert.ok(document.paths['/api/automations/{name}/explain']?.['post']);
    assert.equal(document.paths['/'], undefined);
  });

  test('GET /api/whoami names the key and its scopes; 401 without a key, 403 without read', async () => {
    assert.deepEqual((await call('GET', '/api/whoami', adminKey)).json(), { id: 'bootstrap-admin', name: 'VIGIL_ADMIN_KEY', scopes: ['admin'] });
    const viewer = (await call('GET', '/api/whoami', readKey)).json();
    assert.equal(viewer['name'], 'viewer');
    assert.deepEqual(viewer['scopes'], ['read']);
    assert.equal((await call('GET', '/api/whoami', null)).status, 401);
    assert.equal((await call('GET', '/api/whoami', writeKey)).status, 403);
  });

  test('POST /api/automations/{name}/explain: clause by clause, for a stored or an unsaved definition', async () => {
    const repository = createAutomationRepository(database.db);
    const saved = await repository.upsert({
      name: 'explained',
      trigger: { type: 'event', expect: ['airflow.dag_run.failed'], match: { env: 'prod' }, threshold: 1 },
      actions: [{ kind: 'emit-event', event: 'x.y', resource: { id: 'vigil.test' } }],
    });
    assert.ok(saved.ok);

    const hit = await call('POST', '/api/automations/explained/explain', readKey, { event: { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.a', env: 'prod' } } });
    assert.equal(hit.status, 200, hit.text);
    assert.equal(hit.json()['matched'], true);

    const miss = await call('POST', '/api/automations/explained/explain', readKey, { event: { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.a', env: 'dev' } } });
    const body = miss.json() as { matched: boolean; clauses: Array<{ clause: string; matched: boolean; detail: string }> };
    assert.equal(body.matched, false);
    const failed = body.clauses.filter((c) => !c.matched).map((c) => c.clause);
    assert.ok(failed.some((clause) => clause.startsWith('trigger.match')), JSON.stringify(body.clauses));

    // an unsaved definition under a new name
    const draft = await call('POST', '/api/automations/draft/explain', readKey, {
      automation: { trigger: { type: 'event', expect: ['dbt.*'] }, actions: [{ kind: 'emit-event', event: 'x.y', resource: { id: 'vigil.test' } }] },
      event: { event: 'dbt.model.refreshed', resource: { id: 'dbt.model.sales' } },
    });
    assert.equal(draft.status, 200, draft.text);
    assert.equal(draft.json()['automation'], 'draft');

    const badEvent = await call('POST', '/api/automations/explained/explain', readKey, { event: { event: 'x.y' } });
    assert.equal(badEvent.status, 422);
    assert.ok((badEvent.json() as { errors: Array<{ path: string }> }).errors.some((e) => e.path.startsWith('event.resource')), badEvent.text);
    assert.equal((await call('POST', '/api/automations/unknown/explain', readKey, { event: { event: 'x.y', resource: { id: 'r' } } })).status, 404);
    assert.equal((await call('POST', '/api/automations/explained/explain', readKey, { events: [] })).status, 422);
  });

  test('POST /api/automations/match lists the automations an event matches, with their clauses', async () => {
    const repository = createAutomationRepository(database.db);
    assert.ok((await repository.upsert({ name: 'orders-failed', trigger: { type: 'event', expect: ['airflow.dag_run.failed'], match: { id: 'airflow.dag.orders' } }, actions: [{ kind: 'emit-event', event: 'x.y', resource: { id: 'vigil.test' } }] })).ok);
    const answer = await call('POST', '/api/automations/match', readKey, { event: { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.a', env: 'prod' } } });
    assert.equal(answer.status, 200, answer.text);
    const body = answer.json() as { checked: number; matched: Array<{ name: string; clauses: Array<{ clause: string; matched: boolean }> }> };
    assert.ok(body.checked >= 2);
    assert.deepEqual(body.matched.map((m) => m.name), ['explained'], 'prod matches "explained"; the orders automation wants another resource');
    assert.ok(body.matched[0]!.clauses.every((c) => c.matched));
    assert.equal((await call('POST', '/api/automations/match', readKey, { event: { event: 'a.b' } })).status, 422);
    assert.equal((await call('POST', '/api/automations/match', null, { event: { event: 'a.b', resource: { id: 'r' } } })).status, 401);
  });

  test('GET /api/trigger-status: firing, waiting, paused and ok keys, with the 30-window history', async () => {
    const repository = createAutomationRepository(database.db);
    const definitions: Array<Record<string, unknown>> = [
      { name: 'sla-every-minute', trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], by: '* * * * *', timezone: 'UTC' }, actions: [{ kind: 'emit-event', event: 'sla.missed', resource: { id: 'vigil.test' } }] },
      { name: 'heartbeat', trigger: { type: 'event', posture: 'proactive', expect: ['check_in.succeeded'], within: '10m' }, actions: [{ kind: 'emit-event', event: 'late', resource: { id: 'vigil.test' } }] },
      { name: 'paused-one', enabled: false, trigger: { type: 'event', expect: ['a.b'] }, actions: [{ kind: 'emit-event', event: 'x', resource: { id: 'vigil.test' } }] },
    ];
    for (const definition of definitions) assert.ok((await repository.upsert(definition)).ok);
    // created an hour ago, so that its windows since then count as met unless missed
    await database.db.query("UPDATE automations SET created_at = now() - interval '1 hour'");

    const now = Date.now();
    const automation = (name: string): Automation => {
      const result = validateAutomation(definitions.find((d) => d['name'] === name)!);
      assert.ok(result.ok);
      return result.automation;
    };
    const insertState = async (a: Automation) => {
      const state = compileTriggerProgram(a, 1n, { allowedLatenessMs: 0 }).initialState(now - 5_000, now - 5_000);
      await database.db.query('INSERT INTO trigger_state (automation_name, state_key, trigger_hash, state) VALUES ($1, $2, $3, $4)', [a.name, '', triggerHash(a), JSON.stringify(state)]);
    };
    await insertState(automation('sla-every-minute'));
    await insertState(automation('heartbeat'));
    // the SLA missed the deadline two minutes ago (still firing) and three minutes ago (recovered late)
    const minute = (n: number) => new Date(Math.floor(now / 60_000) * 60_000 - n * 60_000);
    const insertFiring = async (deadline: Date, status: 'triggered' | 'resolved') =>
      database.db.query(
        `INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, resolved_at, window_start, window_end, deadline, event_count, event_ids)
         VALUES ($1, 'sla-every-minute', '', '{}', $2, $3, $4, $5, $3, $3, 0, '[]')`,
        [randomUUID(), status, deadline, status === 'resolved' ? new Date(deadline.getTime() + 10_000) : null, new Date(deadline.getTime() - 60_000)],
      );
    await insertFiring(minute(3), 'resolved');
    await insertFiring(minute(2), 'triggered');

    const answer = await call('GET', '/api/trigger-status', readKey);
    assert.equal(answer.status, 200, answer.text);
    const gzipped = await app.inject({ method: 'GET', url: '/api/trigger-status', headers: { authorization: `Bearer ${readKey}`, 'accept-encoding': 'gzip' } });
    // compressed above 4 KiB, for clients that accept it
    assert.equal(gzipped.headers['content-encoding'], answer.text.length > 4096 ? 'gzip' : undefined, `${answer.text.length} bytes`);
    if (gzipped.headers['content-encoding'] === 'gzip') assert.equal(gunzipSync(gzipped.rawPayload).toString(), answer.text);
    const list = answer.json()['automations'] as Array<{ name: string; enabled: boolean; trigger_type: string; keys: Array<{ status: string; due_at: string | null; history: string | null; firing_id: string | null }> }>;
    const byName = new Map(list.map((a) => [a.name, a]));

    const sla = byName.get('sla-every-minute')!;
    assert.equal(sla.trigger_type, 'deadline');
    assert.equal(sla.keys.length, 1);
    assert.equal(sla.keys[0]!.status, 'firing');
    assert.ok(sla.keys[0]!.firing_id);
    const history = sla.keys[0]!.history!;
    assert.equal(history.length, 30);
    // the newest window closed at the start of this minute; the one two minutes earlier missed (still open), three minutes earlier recovered late
    assert.equal(history.at(-1), 'm', history);
    assert.equal(history.at(-3), 'M', history);
    assert.equal(history.at(-4), 'L', history);
    assert.equal(history.replace(/[ML]/g, '').replace(/m/g, '').length, 0, 'every other window of the last hour was met');

    const heartbeat = byName.get('heartbeat')!;
    assert.equal(heartbeat.trigger_type, 'event/proactive');
    assert.equal(heartbeat.keys[0]!.status, 'waiting');
    assert.ok(Date.parse(heartbeat.keys[0]!.due_at!) > now, 'due in the future');
    assert.equal(heartbeat.keys[0]!.history!.length, 30);

    const paused = byName.get('paused-one')!;
    assert.equal(paused.enabled, false);
    assert.deepEqual(paused.keys.map((k) => k.status), ['paused']);
    assert.equal(paused.keys[0]!.history, null, 'reactive triggers have no windows of their own');

    assert.equal((await call('GET', '/api/trigger-status', null)).status, 401);
  });
});
