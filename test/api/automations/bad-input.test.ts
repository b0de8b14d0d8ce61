import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Problem, assertProblem, call, failures, notify, salesSla, useAutomationsApi } from './automations-api.ts';

/* The automations API: bad input: a 4xx naming the problem, never a 500. */

useAutomationsApi({ withCommonAutomations: true });

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
