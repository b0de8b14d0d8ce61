import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEventPersister } from '../../history/event-persister.ts';
import { createLogger } from '../../platform/logger.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { waitFor } from '../support/wait-for.ts';

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ index: number; path: string; message: string }>;
}

/*
 * What Vigil accepts, it can store and read back unchanged: strings that PostgreSQL's jsonb and
 * text cannot hold (a lone UTF-16 surrogate, NUL) and times outside 0100-01-01 … 9999-12-31 (UTC)
 * are refused at intake with a 422 naming the path, in every format and in the dry run. The
 * JSON below is written by hand where JSON.stringify would not produce the escape.
 */
describe('intake refuses what a store cannot keep, in every format', () => {
  let harness: IngestHarness;
  let persister: { close(): Promise<void> };
  before(async () => {
    harness = await startIngestHarness();
    persister = await startEventPersister({ db: harness.database.db, log: harness.log, logger: createLogger('silent'), retentionDays: 7 });
  });
  after(async () => {
    await persister.close();
    await harness.close();
  });

  async function refused(response: Response): Promise<Array<[number, string]>> {
    const body = (await response.json()) as Problem;
    assert.equal(response.status, 422, JSON.stringify(body));
    return body.errors!.map((error) => [error.index, error.path]);
  }

  test('a lone surrogate or NUL anywhere in a native event is a 422 with its path (JSON and NDJSON)', async () => {
    assert.deepEqual(await refused(await harness.post('/api/events', '{"event":"x","resource":{"id":"\\ud800"}}')), [[0, 'resource.id']]);
    const payload = '{"event":"x","resource":{"id":"r","env":"a\\u0000b"},"payload":{"list":[1,"\\udc00"],"\\ud83d":true,"ok":"\\ud83d\\ude00"}}';
    assert.deepEqual((await refused(await harness.post('/api/events', payload))).sort(), [
      [0, 'payload.list[1]'],
      [0, 'payload.\ud83d'],
      [0, 'resource.env'],
    ]);
    const ndjson = `${json({ event: 'x', resource: { id: 'fine' } })}\n{"event":"x","resource":{"id":"r"},"related":[{"id":"p","role":"\\udfff"}]}\n`;
    assert.deepEqual(await refused(await harness.post('/api/events', ndjson, { 'content-type': 'application/x-ndjson' })), [[1, 'related[0].role']]);
  });

  test('CloudEvents: in data, subject and extension attributes, structured and binary', async () => {
    const structured = '{"specversion":"1.0","id":"1","source":"s","type":"a.b","subject":"x\\u0000","data":{"k":"\\ud800"}}';
    assert.deepEqual((await refused(await harness.post('/api/events', structured, { 'content-type': 'application/cloudevents+json' }))).sort(), [
      [0, 'data.k'],
      [0, 'subject'],
    ]);
    const binary = await harness.post('/api/events', '{"k":"\\udbff"}', { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's', 'ce-type': 'a.b' });
    assert.deepEqual(await refused(binary), [[0, 'data.k']]);
  });

  test('OpenLineage: a facet holding a lone surrogate is a 422 in OpenLineage terms', async () => {
    const runEvent = {
      eventType: 'COMPLETE',
      eventTime: '2026-11-22T08:00:00Z',
      run: { runId: 'r-1', facets: { note: { _producer: 'p', text: 'SURROGATE' } } },
      job: { namespace: 'ns', name: 'job' },
      producer: 'https://example.test/producer',
    };
    const body = json(runEvent).replace('SURROGATE', '\\udc00');
    assert.deepEqual(await refused(await harness.post('/api/v1/lineage', body)), [[0, 'run.facets.note.text']]);
  });

  test('times outside 0100-01-01 … 9999-12-31 UTC are a 422 naming the field, in every format', async () => {
    for (const occurred of ['9999-12-31T23:59:59-14:00', '0001-06-15T00:00:00Z', '0020-02-29T00:00:00Z', '0099-12-31T23:59:59Z']) {
      assert.deepEqual(await refused(await harness.post('/api/events', json({ event: 'x', occurred, resource: { id: 'r' } }))), [[0, 'occurred']], occurred);
    }
    const cloudEvent = { specversion: '1.0', id: '1', source: 's', type: 'a.b', time: '0050-01-01T00:00:00Z' };
    assert.deepEqual(await refused(await harness.post('/api/events', json(cloudEvent), { 'content-type': 'application/cloudevents+json' })), [[0, 'time']]);
    const runEvent = { eventTime: '0010-01-01T00:00:00Z', run: { runId: 'r' }, job: { namespace: 'n', name: 'j' }, producer: 'p' };
    assert.deepEqual(await refused(await harness.post('/api/v1/lineage', json(runEvent))), [[0, 'eventTime']]);
  });

  test('the dry run applies the same rule to its events', async () => {
    const automation = { trigger: { type: 'event', expect: ['x'] }, actions: [{ kind: 'emit-event', event: 'y', resource: { id: 'r' } }] };
    const body = `{"automation":${json(automation)},"events":[{"event":"x","resource":{"id":"ok"}},{"event":"x","occurred":"0001-01-01T00:00:00Z","resource":{"id":"\\ud800"}}]}`;
    const response = await harness.post('/api/automations/storable-test/test', body);
    const problem = (await response.json()) as Problem;
    assert.equal(response.status, 422, JSON.stringify(problem));
    assert.deepEqual(problem.errors!.map((error) => error.path).sort(), ['events[1].occurred', 'events[1].resource.id']);
  });

  test('the edges of the range, other control characters and astral characters are kept exactly and read back', async () => {
    const events = [
      { id: 'edge-low', event: 'edge.low', occurred: '0100-01-01T00:00:00Z', resource: { id: 'edge', note: 'tab\there \u0001 \u007f' } },
      { id: 'edge-high', event: 'edge.high', occurred: '9999-12-31T23:59:59.999Z', resource: { id: 'edge', note: '\ud83d\ude00 \u202e' } },
    ];
    assert.equal((await harness.post('/api/events', json(events))).status, 202);
    const get = async () => {
      const response = await fetch(`${harness.url}/api/events?resource=edge`, { headers: { authorization: `Bearer ${harness.adminKey}` } });
      assert.equal(response.status, 200);
      return ((await response.json()) as { events: Array<{ id: string; occurred: string; resource: Record<string, string> }> }).events;
    };
    await waitFor('both edge events in the history', async () => (await get()).length === 2);
    const stored = await get();
    assert.deepEqual(
      stored.map((event) => [event.id, event.occurred, event.resource.note]),
      [
        ['edge-high', '9999-12-31T23:59:59.999Z', events[1]!.resource.note],
        ['edge-low', '0100-01-01T00:00:00.000Z', events[0]!.resource.note],
      ],
    );
    const all = await fetch(`${harness.url}/api/events`, { headers: { authorization: `Bearer ${harness.adminKey}` } });
    assert.equal(all.status, 200);
  });
});
