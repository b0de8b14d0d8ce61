import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Stored, assertProblem, call, failures, readKey, useAutomationsApi, writeKey } from './automations-api.ts';

/* The automations API: which scopes may call which routes. */

useAutomationsApi({ withCommonAutomations: true });

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
