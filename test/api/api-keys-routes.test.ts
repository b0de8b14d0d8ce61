import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMetrics } from '../../platform/metrics.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import type { Database } from '../../platform/ports/database.ts';
import { startApiRole, type RunningApi } from '../../cli/start/api-role.ts';
import type { ApiKeyResource, CreatedApiKey } from '../../schemas/api-key.ts';
import { startActionsApiHarness, unusedEventLog, type ActionsApiHarness } from '../actions/api-harness.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * GET|POST /api/keys and DELETE /api/keys/{id} over the real HTTP app and PostgreSQL: admin
 * scope only, the secret answered once and never listed, exact 4xx with paths, and a revoked
 * key refused at once by the API that revoked it, and by a second API on connections of its own
 * (which trusted the key from its cache a moment before) as soon as the NOTIFY reaches it.
 */

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

describe('API keys routes', () => {
  let harness: ActionsApiHarness;

  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, queue: false });
  });
  after(async () => {
    await harness?.close();
  });

  const create = (body: unknown, key?: string) => harness.request('POST', '/api/keys', { body: body as object, ...(key === undefined ? {} : { key }) });
  const as = async (secret: string, method: string, path: string) => (await harness.request(method, path, { key: secret })).status;

  test('only admin keys may list, create or revoke: 401 without a valid key, 403 with read or events:write', async () => {
    for (const [method, path] of [['GET', '/api/keys'], ['POST', '/api/keys'], ['DELETE', '/api/keys/0193a5c2-7f1e-7c3a-9a4e-5d8f0b1c2d3e']] as const) {
      const body = method === 'POST' ? { name: 'x', scopes: ['read'] } : undefined;
      const anonymous = await harness.request(method, path, { key: null, ...(body ? { body } : {}) });
      assert.equal(anonymous.status, 401, `${method} ${path} without a key`);
      assert.equal((anonymous.body as Problem).error, 'unauthorized');
      assert.equal((await harness.request(method, path, { key: 'vk_not-a-key', ...(body ? { body } : {}) })).status, 401);
      for (const key of [harness.readKey, harness.writeKey]) {
        const refused = await harness.request(method, path, { key, ...(body ? { body } : {}) });
        assert.equal(refused.status, 403, `${method} ${path} with a non-admin key`);
        assert.match((refused.body as Problem).message, /lacks the "admin" scope/);
      }
    }
  });

  test('POST answers the secret once; the key authenticates with its scopes; GET lists it without the secret', async () => {
    const response = await create({ name: 'airflow-prod', scopes: ['events:write', 'read'] });
    assert.equal(response.status, 201, response.text);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const created = response.body as CreatedApiKey;
    assert.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(created.name, 'airflow-prod');
    assert.deepEqual(created.scopes, ['events:write', 'read']);
    assert.match(created.secret, /^vk_[A-Za-z0-9_-]{32}$/);
    assert.equal(created.last_used_at, null);
    assert.ok(Math.abs(Date.parse(created.created_at) - Date.now()) < 60_000);

    // The new key reads (read scope) but does not administer.
    assert.equal(await as(created.secret, 'GET', '/api/automations'), 200);
    assert.equal(await as(created.secret, 'GET', '/api/keys'), 403);

    const listed = await harness.request('GET', '/api/keys');
    assert.equal(listed.status, 200);
    assert.ok(!listed.text.includes(created.secret), 'the list never holds a secret');
    const keys = (listed.body as { keys: ApiKeyResource[] }).keys;
    const entry = keys.find((key) => key.id === created.id);
    assert.deepEqual(Object.keys(entry ?? {}).sort(), ['created_at', 'id', 'last_used_at', 'name', 'scopes']);
    assert.equal(entry?.name, 'airflow-prod');
    assert.ok(entry?.last_used_at !== null, 'used once above, so last_used_at is set');
    // The harness's own keys are listed too (oldest first), the bootstrap key is not.
    assert.deepEqual(keys.map((key) => key.name).slice(0, 2), ['reader', 'sender']);
    assert.ok(!keys.some((key) => key.id === 'bootstrap-admin'));
  });

  test('bad bodies: 400 malformed, 415 not JSON, 422 with every problem at its path', async () => {
    const malformed = await harness.request('POST', '/api/keys', { body: '{"name": ' });
    assert.equal(malformed.status, 400);
    assert.equal((malformed.body as Problem).error, 'malformed_json');
    const empty = await harness.request('POST', '/api/keys', { body: '' , contentType: 'application/json' });
    assert.equal(empty.status, 400);
    const text = await harness.request('POST', '/api/keys', { body: 'name=x', contentType: 'text/plain' });
    assert.equal(text.status, 415);

    const cases: Array<[unknown, Array<[string, RegExp]>]> = [
      [{}, [['name', /string/], ['scopes', /list of scopes/]]],
      [{ name: 'ci', scopes: ['write'] }, [['scopes[0]', /must be one of events:write, read, admin/]]],
      [{ name: 'ci', scopes: [] }, [['scopes', /at least one scope/]]],
      [{ name: 'ci', scopes: ['read', 'read'] }, [['scopes', /must not repeat/]]],
      [{ name: '  ', scopes: ['read'] }, [['name', /must not be empty/]]],
      [{ name: 'x'.repeat(129), scopes: ['read'] }, [['name', /at most 128/]]],
      [{ name: 'bad\u0000name', scopes: ['read'] }, [['name', /control characters/]]],
      [{ name: 'ci', scopes: 'admin' }, [['scopes', /list of scopes/]]],
      [{ name: 'ci', scopes: ['read'], secret: 'mine' }, [['secret', /unknown field/]]],
      [['ci'], [['', /object/]]],
    ];
    for (const [body, expected] of cases) {
      const response = await create(body);
      assert.equal(response.status, 422, `${JSON.stringify(body)}: ${response.text}`);
      const problem = response.body as Problem;
      assert.equal(problem.error, 'invalid_key');
      assert.deepEqual(problem.errors?.map((error) => error.path), expected.map(([path]) => path), JSON.stringify(problem));
      for (const [index, [, message]] of expected.entries()) assert.match(problem.errors[index]!.message, message);
    }
    const names = ((await harness.request('GET', '/api/keys')).body as { keys: ApiKeyResource[] }).keys.map((key) => key.name);
    assert.ok(!names.includes('ci'), 'nothing invalid was stored');
  });

  test('DELETE revokes: 204, the key is refused at once and no longer listed; 404 for unknown, revoked and bootstrap ids', async () => {
    const created = (await create({ name: 'short-lived', scopes: ['read'] })).body as CreatedApiKey;
    assert.equal(await as(created.secret, 'GET', '/api/automations'), 200); // now trusted from the cache

    const revoked = await harness.request('DELETE', `/api/keys/${created.id}`);
    assert.equal(revoked.status, 204);
    assert.equal(revoked.text, '');
    const refused = await harness.request('GET', '/api/automations', { key: created.secret });
    assert.equal(refused.status, 401);
    assert.match((refused.body as Problem).message, /unknown or revoked/);
    const listed = ((await harness.request('GET', '/api/keys')).body as { keys: ApiKeyResource[] }).keys;
    assert.ok(!listed.some((key) => key.id === created.id));

    for (const id of [created.id, '0193a5c2-7f1e-7c3a-9a4e-5d8f0b1c2d3e', 'not-a-uuid', 'bootstrap-admin']) {
      const missing = await harness.request('DELETE', `/api/keys/${id}`);
      assert.equal(missing.status, 404, id);
      assert.equal((missing.body as Problem).error, 'not_found');
    }
    assert.match(((await harness.request('DELETE', '/api/keys/bootstrap-admin')).body as Problem).message, /VIGIL_ADMIN_KEY/);
  });

  test('the OpenAPI document declares each route\'s answers and the body\'s constraints', async () => {
    const document = (await harness.request('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: { properties: Record<string, Record<string, unknown>>; additionalProperties?: unknown } }> } }>>;
    };
    const codes = (path: string, method: string) => Object.keys(document.paths[path]?.[method]?.responses ?? {}).sort();
    // 400 (query and path rules), 413/415 (bodies) and 429 (rate limit) come from the rules every route follows
    assert.deepEqual(codes('/api/keys', 'get'), ['200', '400', '401', '403', '429']);
    assert.deepEqual(codes('/api/keys', 'post'), ['201', '400', '401', '403', '413', '415', '422', '429']);
    assert.deepEqual(codes('/api/keys/{id}', 'delete'), ['204', '400', '401', '403', '404', '429']);
    const body = document.paths['/api/keys']!.post!.requestBody!.content['application/json']!.schema;
    assert.equal(body.additionalProperties, false);
    assert.deepEqual(body.properties.scopes, { ...body.properties.scopes, minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['events:write', 'read', 'admin'] } });
    assert.equal(body.properties.name!.maxLength, 128);
  });

  describe('with a second API on connections of its own', () => {
    let otherDb: Database;
    let other: RunningApi;
    before(async () => {
      otherDb = createPostgresDatabase({ url: harness.database.url, poolSize: 2, applicationName: 'vigil-test-other-api' });
      other = await startApiRole({ db: otherDb, log: unusedEventLog, logger: (await import('pino')).pino({ level: 'silent' }), metrics: createMetrics(), rateLimitPerMinute: 100_000, host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      await other?.close();
      await otherDb?.close();
    });

    test('a key revoked through one API is refused by the other as soon as the notification arrives, long before its cache would expire', async () => {
      const created = (await create({ name: 'shared', scopes: ['read'] })).body as CreatedApiKey;
      const readThere = async () => (await fetch(`${other.url}/api/automations`, { headers: { authorization: `Bearer ${created.secret}` } })).status;
      assert.equal(await readThere(), 200);
      assert.equal(await readThere(), 200); // now served from the other API's cache, trusted for 10 s

      assert.equal((await harness.request('DELETE', `/api/keys/${created.id}`)).status, 204);
      const revokedAt = Date.now();
      // PostgreSQL delivers the notification to the other API's listening connection a moment after the commit.
      await waitFor('the other API to refuse the revoked key', async () => (await readThere()) === 401, 2_000, 10);
      assert.ok(Date.now() - revokedAt < 2_000);
    });
  });
});
