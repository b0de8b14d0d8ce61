import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKeys } from '../../api/api-keys.ts';
import { eventLimits } from '../../schemas/limits.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ index: number; path: string; message: string }>;
}

const valid = { event: 'ok.event', resource: { id: 'r1' } };

describe('bad input gets a clear 4xx, never a 500 or a crash', () => {
  let harness: IngestHarness;
  before(async () => {
    harness = await startIngestHarness();
  });
  after(async () => {
    await harness.close();
  });

  async function expectProblem(response: Response, status: number, error: string, messagePattern?: RegExp): Promise<Problem> {
    const body = (await response.json()) as Problem;
    assert.equal(response.status, status, JSON.stringify(body));
    assert.equal(body.error, error);
    if (messagePattern) assert.match(body.message, messagePattern);
    return body;
  }

  test('truncated JSON is a 400 that says it is not valid JSON', async () => {
    await expectProblem(await harness.post('/api/events', '{"event": "a.b", "resource": {"id": '), 400, 'malformed_json', /not valid JSON/);
  });

  test('an empty body is a 400', async () => {
    await expectProblem(await harness.post('/api/events', ''), 400, 'malformed_json', /empty/);
  });

  test('a bad NDJSON line is a 400 naming the line', async () => {
    const body = `${json(valid)}\n{oops\n`;
    await expectProblem(await harness.post('/api/events', body, { 'content-type': 'application/x-ndjson' }), 400, 'malformed_json', /line 2/);
  });

  test('wrong types are a 422 listing each bad item with its index and path; nothing is written', async () => {
    const body = [valid, { event: 42, resource: { id: 'r' } }, valid, { event: 'x.y', resource: { id: 'r', env: 7 }, related: [{ id: 'p' }] }];
    const problem = await expectProblem(await harness.post('/api/events', json(body)), 422, 'invalid_events', /2 of 4 events are invalid; nothing was accepted/);
    assert.deepEqual(
      problem.errors!.map((error) => [error.index, error.path]),
      [
        [1, 'event'],
        [3, 'resource.env'],
        [3, 'related[0].role'],
      ],
    );
    assert.match(problem.errors![1]!.message, /label values must be strings/);
  });

  test('a missing resource id, a bad name and an unknown field are named', async () => {
    const problem = await expectProblem(
      await harness.post('/api/events', json([{ event: 'a..b', resource: {} }, { ...valid, resouce: {} }])),
      422,
      'invalid_events',
    );
    const paths = problem.errors!.map((error) => `${error.index}:${error.path}:${error.message}`);
    assert.ok(paths.some((text) => text.startsWith('0:event:') && /dot-separated/.test(text)), paths.join('\n'));
    assert.ok(paths.some((text) => text.startsWith('0:resource.id:')), paths.join('\n'));
    assert.ok(paths.some((text) => text.startsWith('1::') && /resouce/.test(text)), paths.join('\n'));
  });

  test('huge strings are refused with the limit in the message', async () => {
    const longValue = 'x'.repeat(eventLimits.maxLabelValueLength + 1);
    const problem = await expectProblem(await harness.post('/api/events', json({ event: 'a.b', resource: { id: 'r', note: longValue } })), 422, 'invalid_events');
    assert.match(problem.errors![0]!.message, /at most 1024 characters/);
    const longName = `a.${'b'.repeat(eventLimits.maxNameLength)}`;
    await expectProblem(await harness.post('/api/events', json({ event: longName, resource: { id: 'r' } })), 422, 'invalid_events', /at most 256 characters/);
    const bigPayload = { event: 'a.b', resource: { id: 'r' }, payload: { blob: 'y'.repeat(eventLimits.maxEventBytes) } };
    const big = await expectProblem(await harness.post('/api/events', json(bigPayload)), 422, 'invalid_events');
    assert.match(big.errors![0]!.message, /at most 262144 bytes/);
  });

  test('too many labels and too many related resources are refused with the limit', async () => {
    const labels = Object.fromEntries(Array.from({ length: eventLimits.maxLabels + 1 }, (_, index) => [`l${index}`, 'v']));
    const problem = await expectProblem(await harness.post('/api/events', json({ event: 'a.b', resource: { id: 'r', ...labels } })), 422, 'invalid_events');
    assert.match(problem.errors![0]!.message, /at most 50 are allowed/);
    const related = Array.from({ length: eventLimits.maxRelated + 1 }, (_, index) => ({ id: `p${index}`, role: 'x' }));
    await expectProblem(await harness.post('/api/events', json({ event: 'a.b', resource: { id: 'r' }, related })), 422, 'invalid_events', /at most 50 related/);
  });

  test('a deeply nested payload is refused; pathological nesting does not crash the server', async () => {
    let deep: unknown = {};
    for (let level = 0; level < 40; level++) deep = { next: deep };
    await expectProblem(await harness.post('/api/events', json({ event: 'a.b', resource: { id: 'r' }, payload: deep })), 422, 'invalid_events', /nested more than 32 levels/);
    const pathological = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const response = await harness.post('/api/events', pathological);
    assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
    const health = await fetch(`${harness.url}/healthz`);
    assert.equal(health.status, 200);
  });

  test('a body over the request limit is a 413 stating the limit', async () => {
    const body = Buffer.alloc(eventLimits.maxRequestBytes + 1, 0x20);
    await expectProblem(await harness.post('/api/events', body), 413, 'request_too_large', /10485760 bytes/);
  });

  test('more events than allowed in one request is a 413', async () => {
    const body = json(Array.from({ length: eventLimits.maxEventsPerRequest + 1 }, () => valid));
    await expectProblem(await harness.post('/api/events', body), 413, 'too_many_events', /at most 10000/);
  });

  test('wrong and missing content types are a 415 listing the supported ones', async () => {
    await expectProblem(await harness.post('/api/events', json(valid), { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', /application\/json/);
    await expectProblem(await harness.post('/api/events', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
    await expectProblem(await harness.post('/api/v1/lineage', json({}), { 'content-type': 'application/x-ndjson' }), 415, 'unsupported_media_type');
  });

  test('invalid UTF-8 is a 400', async () => {
    const body = Buffer.concat([Buffer.from('{"event":"a.b","resource":{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    await expectProblem(await harness.post('/api/events', body), 400, 'invalid_encoding', /not valid UTF-8/);
  });

  test('hostile strings are data, not code: prototype keys are refused, odd text is kept verbatim', async () => {
    await expectProblem(await harness.post('/api/events', '{"event":"a.b","resource":{"id":"r"},"__proto__":{"polluted":true}}'), 400, 'forbidden_key');
    await expectProblem(await harness.post('/api/events', '{"event":"a.b","resource":{"id":"r"},"payload":{"constructor":{"prototype":{"x":1}}}}'), 400, 'forbidden_key');
    const hostile = { event: 'a.b', resource: { id: "r'; DROP TABLE events;--", note: '<script>alert(1)</script>\u0001\u202e' } };
    const response = await harness.post('/api/events', json(hostile));
    assert.equal(response.status, 202);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('OpenLineage events missing required fields are a 422 in OpenLineage terms', async () => {
    const problem = await expectProblem(await harness.post('/api/v1/lineage', json({ eventType: 'START', run: {}, job: { namespace: 'n' } })), 422, 'invalid_events');
    const paths = problem.errors!.map((error) => error.path);
    for (const path of ['eventTime', 'run.runId', 'job.name', 'producer']) assert.ok(paths.includes(path), `${path} in ${paths.join(', ')}`);
  });

  test('a CloudEvent missing required attributes is a 422 naming them', async () => {
    const problem = await expectProblem(await harness.post('/api/events', json({ specversion: '1.0', type: 'a.b' }), { 'content-type': 'application/cloudevents+json' }), 422, 'invalid_events');
    assert.deepEqual(problem.errors!.map((error) => error.path).sort(), ['id', 'source']);
    const binary = await harness.post('/api/events', json({}), { 'content-type': 'application/json', 'ce-specversion': '0.3', 'ce-id': '1', 'ce-source': 's', 'ce-type': 'a.b' });
    await expectProblem(binary, 422, 'invalid_events', /CloudEvents 1\.0/);
  });

  test('missing or unknown keys are a 401, a key without the scope a 403', async () => {
    await expectProblem(await harness.post('/api/events', json(valid), undefined, null), 401, 'unauthorized', /missing Authorization/);
    await expectProblem(await harness.post('/api/events', json(valid), undefined, 'Basic abc'), 401, 'unauthorized', /Bearer/);
    await expectProblem(await harness.post('/api/events', json(valid), undefined, 'Bearer vk_not-a-key'), 401, 'unauthorized', /unknown or revoked/);
    const keys = createApiKeys(harness.database.db);
    const reader = await keys.create('dashboards', ['read']);
    await expectProblem(await harness.post('/api/events', json(valid), undefined, `Bearer ${reader.secret}`), 403, 'forbidden', /events:write/);
    const writer = await keys.create('airflow', ['events:write']);
    assert.equal((await harness.post('/api/events', json(valid), undefined, `Bearer ${writer.secret}`)).status, 202);
    await keys.revoke(writer.id);
  });

  test('the server is still healthy and counted every rejection by reason', async () => {
    assert.equal((await fetch(`${harness.url}/healthz`)).status, 200);
    const metrics = await (await fetch(`${harness.url}/metrics`)).text();
    assert.match(metrics, /vigil_events_rejected_total\{reason="invalid"\} \d+/);
    assert.match(metrics, /vigil_events_accepted_total\{format="native"\} \d+/);
  });
});

describe('rate limiting per key', () => {
  let harness: IngestHarness;
  before(async () => {
    harness = await startIngestHarness({ rateLimitPerMinute: 3 });
  });
  after(async () => {
    await harness.close();
  });

  test('a key over its limit gets 429 with Retry-After; health checks are not limited', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let index = 0; index < 4; index++) {
      last = await harness.post('/api/events', json(valid));
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [202, 202, 202, 429]);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    const body = (await last!.json()) as Problem;
    assert.equal(body.error, 'rate_limited');
    for (let index = 0; index < 5; index++) assert.equal((await fetch(`${harness.url}/healthz`)).status, 200);
  });

  test('readiness, metrics and the OpenAPI document are served', async () => {
    const ready = await fetch(`${harness.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: Array<{ name: string; ok: boolean }> }).checks.map((check) => [check.name, check.ok]), [
      ['event_log', true],
      ['database', true],
    ]);
    const openapi = (await (await fetch(`${harness.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    assert.ok(openapi.paths['/api/events']);
    assert.ok(openapi.paths['/api/v1/lineage']);
    assert.equal((await fetch(`${harness.url}/docs/`)).status, 200);
  });
});
