import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { eventLimits } from '../../schemas/limits.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';

interface Problem {
  error: string;
  message: string;
}

interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> }; security?: unknown[] }>>;
}

describe('rules every route follows: control characters, unknown query parameters, gzip bodies, an exact description', () => {
  let harness: IngestHarness;
  const get = (path: string) => fetch(`${harness.url}${path}`, { headers: { authorization: `Bearer ${harness.adminKey}` } });

  before(async () => {
    harness = await startIngestHarness();
  });
  after(async () => {
    await harness.close();
  });

  async function problem(response: Response, status: number, error: string, message?: RegExp): Promise<void> {
    const body = (await response.json()) as Problem;
    assert.equal(response.status, status, `${response.url}: ${JSON.stringify(body)}`);
    assert.equal(body.error, error);
    if (message) assert.match(body.message, message);
  }

  test('a control character in any query value or path segment is a 400 naming it, never a 500', async () => {
    await problem(await get('/api/automations?tag=a%00b'), 400, 'invalid_query', /query parameter tag: must not contain control characters \(found U\+0000\)/);
    await problem(await get('/api/events?resource=%00'), 400, 'invalid_query', /resource/);
    await problem(await get('/api/events?event=a%1Fb'), 400, 'invalid_query', /U\+001F/);
    await problem(await get('/api/events?label.env=%7F'), 400, 'invalid_query', /label\.env/);
    await problem(await get('/api/automations/bad%00name'), 400, 'invalid_path', /path parameter name/);
    await problem(await get('/api/automations/bad%00name/firings'), 400, 'invalid_path');
    await problem(await get('/api/connections/c%0A'), 400, 'invalid_path');
    assert.equal((await get('/healthz')).status, 200);
  });

  test('unknown query parameters are refused on every route, declared ones (and label.*) are taken', async () => {
    await problem(await get('/api/events?colour=red'), 400, 'invalid_query', /colour: unknown query parameter/);
    await problem(await get('/api/events/stream?limit=5'), 400, 'invalid_query', /limit/);
    await problem(await get('/api/connections?verbose=1'), 400, 'invalid_query', /this route takes none/);
    await problem(await get('/api/automations/x?expand=1'), 400, 'invalid_query');
    await problem(await fetch(`${harness.url}/healthz?probe=1`), 400, 'invalid_query');
    assert.equal((await get('/api/events?label.env=prod&limit=5&resource=r')).status, 200);
    assert.equal((await get('/api/automations?tag=x')).status, 200);
  });

  test('query times outside the storable range are a 400, not a 500', async () => {
    await problem(await get('/api/events?since=0020-02-29T00:00:00Z'), 400, 'invalid_query', /since/);
  });

  test('gzip bodies are read; the size limit applies to the decompressed body; other encodings are a 415', async () => {
    const events = [{ id: 'gz-1', event: 'gz.test', resource: { id: 'gz' } }];
    const accepted = await harness.post('/api/events', gzipSync(json(events)), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(accepted.status, 202, await accepted.clone().text());
    assert.deepEqual(((await accepted.json()) as { ids: string[] }).ids, ['gz-1']);
    const lineage = { eventType: 'START', eventTime: '2026-11-22T08:00:00Z', run: { runId: 'r' }, job: { namespace: 'n', name: 'j' }, producer: 'p' };
    assert.equal((await harness.post('/api/v1/lineage', gzipSync(json(lineage)), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status, 202);

    // 11 MiB of spaces inside a valid JSON array compress to ~11 KiB: a zip bomb for the limit
    const bomb = gzipSync(Buffer.concat([Buffer.from('['), Buffer.alloc(eventLimits.maxRequestBytes + 1024 * 1024, 0x20), Buffer.from(']')]));
    assert.ok(bomb.length < 100_000);
    await problem(await harness.post('/api/events', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, 'request_too_large');
    await problem(await harness.post('/api/events', Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, 'invalid_encoding');
    await problem(await harness.post('/api/events', json(events), { 'content-type': 'application/json', 'content-encoding': 'br' }), 415, 'unsupported_encoding', /gzip/);
    assert.equal((await fetch(`${harness.url}/healthz`)).status, 200);
  });

  test('the OpenAPI description states the query parameters, media types and error answers', async () => {
    const openapi = (await (await fetch(`${harness.url}/openapi.json`)).json()) as OpenApi;
    const names = (path: string) => (openapi.paths[path]!.get!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
    assert.deepEqual(names('/api/events'), ['cursor', 'event', 'limit', 'resource', 'since', 'until']);
    assert.deepEqual(names('/api/events/stream'), ['event', 'resource', 'since', 'until']);
    for (const path of ['/api/events', '/api/events/stream']) {
      for (const status of ['200', '400', '401', '403', '429']) assert.ok(openapi.paths[path]!.get!.responses[status], `${path} ${status}`);
    }
    assert.deepEqual(Object.keys(openapi.paths['/api/events']!.post!.requestBody!.content).sort(), [
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/json',
      'application/jsonl',
      'application/ndjson',
      'application/x-ndjson',
    ]);
    const patch = openapi.paths['/api/automations/{name}']!.patch!.requestBody!.content['application/json'] as { schema: { minProperties?: number } };
    assert.equal(patch.schema.minProperties, 1, 'PATCH needs a field');
    const firingsCursor = (openapi.paths['/api/automations/{name}/firings']!.get!.parameters ?? []).find((p) => p.name === 'cursor') as { schema?: { pattern?: string } } | undefined;
    assert.equal(firingsCursor?.schema?.pattern, '^[A-Za-z0-9_-]+$');
    for (const [path, operations] of Object.entries(openapi.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        assert.ok(operation.responses['400'], `${method} ${path} documents 400`);
        const isPublic = Array.isArray(operation.security) && operation.security.length === 0;
        if (!isPublic) assert.ok(operation.responses['401'], `${method} ${path} documents 401`);
      }
    }
  });
});
