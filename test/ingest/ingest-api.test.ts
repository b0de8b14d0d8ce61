import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { CloudEvent, HTTP } from 'cloudevents';
import type { VigilEvent } from '../../schemas/event.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';

const servicesScript = new URL('../../scripts/services.sh', import.meta.url).pathname;

describe('POST /api/events over a real Kafka broker', () => {
  let harness: IngestHarness;
  before(async () => {
    harness = await startIngestHarness();
  });
  after(async () => {
    await harness.close();
  });

  test('native events (one, an array, NDJSON) are consumed back exactly as accepted', async () => {
    const one = {
      id: 'evt-one-1',
      occurred: '2026-11-22T08:59:00+01:00',
      event: 'airflow.dag_run.success',
      resource: { id: 'airflow.dag.sales_refresh', name: 'sales_refresh', env: 'prod' },
      related: [{ id: 'airflow.pool.default', role: 'pool' }],
      payload: { duration_s: 812, tables: ['sales'], nested: { ok: true } },
      follows: 'evt-zero',
    };
    const first = await harness.post('/api/events', json(one));
    assert.equal(first.status, 202);
    const firstBody = (await first.json()) as { accepted: number; ids: string[] };
    assert.deepEqual(firstBody, { accepted: 1, ids: ['evt-one-1'] });

    const array = [
      { event: 'dbt.run.started', resource: { id: 'dbt.project.core' } },
      { event: 'dbt.run.completed', resource: { id: 'dbt.project.core' }, payload: { models: 42 } },
    ];
    const second = await harness.post('/api/events', json(array));
    assert.equal(second.status, 202);
    const secondBody = (await second.json()) as { accepted: number; ids: string[] };
    assert.equal(secondBody.accepted, 2);

    const ndjson = `${json({ event: 'cron.heartbeat', resource: { id: 'cron.backup' } })}\n\n${json({ event: 'cron.heartbeat', resource: { id: 'cron.backup' } })}\n`;
    const third = await harness.post('/api/events', ndjson, { 'content-type': 'application/x-ndjson' });
    assert.equal(third.status, 202);
    const thirdBody = (await third.json()) as { accepted: number; ids: string[] };
    assert.equal(thirdBody.accepted, 2);

    const records = await harness.readAll(5);
    assert.equal(records.length, 5, 'every accepted event is in the log once');
    const byId = new Map(records.map((record) => [record.event.id, record.event]));

    const stored = byId.get('evt-one-1')!;
    assert.equal(stored.occurred, '2026-11-22T07:59:00.000Z', 'occurred is normalized to UTC');
    assert.ok(Date.parse(stored.received) > 0);
    assert.deepEqual({ ...stored, received: undefined }, { ...one, occurred: '2026-11-22T07:59:00.000Z', received: undefined });

    for (const id of [...secondBody.ids, ...thirdBody.ids]) {
      const event = byId.get(id);
      assert.ok(event, `event ${id} consumed`);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'assigned ids are uuidv7');
      assert.equal(event.occurred, event.received, 'a missing occurred defaults to the receive time');
      assert.deepEqual(event.related, []);
    }
    const dbtPartitions = new Set(records.filter((record) => record.event.resource.id === 'dbt.project.core').map((record) => record.partition));
    assert.equal(dbtPartitions.size, 1, 'events of one resource share a partition (keyed by resource id)');
    const dbtOrder = records.filter((record) => record.event.resource.id === 'dbt.project.core').map((record) => record.event.event);
    assert.deepEqual(dbtOrder, ['dbt.run.started', 'dbt.run.completed'], 'order within a resource is kept');
  });
});

describe('CloudEvents and OpenLineage over a real Kafka broker', () => {
  let harness: IngestHarness;
  before(async () => {
    harness = await startIngestHarness();
  });
  after(async () => {
    await harness.close();
  });

  test('CloudEvents from the cloudevents SDK (structured, binary, batch) arrive mapped as documented', async () => {
    const structured = new CloudEvent({
      id: 'ce-1',
      source: 'https://ci.example.com/pipelines',
      type: 'com.example.pipeline.finished',
      subject: 'nightly-build',
      time: '2026-11-22T06:00:00Z',
      data: { status: 'green' },
      datacontenttype: 'application/json',
    });
    const structuredMessage = HTTP.structured(structured);
    const a = await harness.post('/api/events', structuredMessage.body as string, structuredMessage.headers as Record<string, string>);
    assert.equal(a.status, 202, await a.clone().text());
    const idA = ((await a.json()) as { ids: string[] }).ids[0];

    // The same CloudEvent again: the same Vigil id, so the resend dedupes downstream.
    const again = await harness.post('/api/events', structuredMessage.body as string, structuredMessage.headers as Record<string, string>);
    assert.equal(((await again.json()) as { ids: string[] }).ids[0], idA);

    const binary = new CloudEvent({ id: 'ce-2', source: 'urn:scheduler', type: 'scheduler.job.missed', data: { job: 'backup' }, vigilresource: 'cron.backup', team: 'data' });
    const binaryMessage = HTTP.binary(binary);
    const b = await harness.post('/api/events', binaryMessage.body as string, binaryMessage.headers as Record<string, string>);
    assert.equal(b.status, 202, await b.clone().text());

    const batch = [
      new CloudEvent({ id: 'ce-3', source: 'urn:a', type: 'a.happened', data: 'plain text' }).toJSON(),
      new CloudEvent({ id: 'ce-4', source: 'urn:a', type: 'a.happened' }).toJSON(),
    ];
    const c = await harness.post('/api/events', json(batch), { 'content-type': 'application/cloudevents-batch+json' });
    assert.equal(c.status, 202, await c.clone().text());

    const records = await harness.readAll(5);
    const events = records.map((record) => record.event);
    const first = events.find((event) => event.payload.cloudevent && (event.payload.cloudevent as { id: string }).id === 'ce-1')!;
    assert.equal(first.event, 'com.example.pipeline.finished');
    assert.equal(first.occurred, '2026-11-22T06:00:00.000Z');
    assert.deepEqual(first.resource, { id: 'nightly-build', source: 'https://ci.example.com/pipelines', subject: 'nightly-build' });
    assert.equal(first.payload.status, 'green');
    assert.equal(events.filter((event) => event.id === idA).length, 2, 'both sends carry one deterministic id');

    const second = events.find((event) => event.resource.id === 'cron.backup')!;
    assert.equal(second.event, 'scheduler.job.missed');
    assert.equal(second.payload.job, 'backup');
    assert.deepEqual((second.payload.cloudevent as { extensions: unknown }).extensions, { vigilresource: 'cron.backup', team: 'data' });

    const text = events.find((event) => (event.payload.cloudevent as { id: string }).id === 'ce-3')!;
    assert.equal(text.payload.data, 'plain text');
    assert.equal(text.resource.id, 'urn:a', 'without subject the resource is the source');
  });

  test('OpenLineage RunEvents shaped like the spec examples arrive mapped as documented', async () => {
    const runId = 'd46e465b-d358-4d32-83d4-df660ff614dd';
    const start = {
      eventType: 'START',
      eventTime: '2026-11-22T08:00:00.000Z',
      run: { runId, facets: { parent: { _producer: 'https://example.com', _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/ParentRunFacet.json', run: { runId: '3b452093-782c-4ef2-9c0c-aafe2aa6f34d' }, job: { namespace: 'airflow-prod', name: 'sales_refresh' } } } },
      job: { namespace: 'airflow-prod', name: 'sales_refresh.load_table' },
      inputs: [{ namespace: 'postgres://db:5432', name: 'raw.sales' }],
      outputs: [{ namespace: 'postgres://db:5432', name: 'mart.sales' }],
      producer: 'https://github.com/apache/airflow/tree/providers-openlineage/1.0.0',
      schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    };
    const complete = { ...start, eventType: 'COMPLETE', eventTime: '2026-11-22T08:13:32.000Z' };
    const response = await harness.post('/api/v1/lineage', json(start));
    assert.equal(response.status, 202, await response.clone().text());
    const arrayResponse = await harness.post('/api/v1/lineage', json([complete, start]));
    assert.equal(arrayResponse.status, 202);
    const ids = [((await response.json()) as { ids: string[] }).ids[0], ...((await arrayResponse.json()) as { ids: string[] }).ids];
    assert.equal(ids[0], ids[2], 'the same RunEvent gets the same id');
    assert.notEqual(ids[0], ids[1]);

    const records = await harness.readAll(3);
    const completed = records.map((record) => record.event).find((event) => event.event === 'openlineage.run.complete') as VigilEvent;
    assert.equal(completed.occurred, '2026-11-22T08:13:32.000Z');
    assert.deepEqual(completed.resource, { id: 'airflow-prod/sales_refresh.load_table', job_namespace: 'airflow-prod', job_name: 'sales_refresh.load_table', run_id: runId });
    assert.deepEqual(completed.related, [
      { id: 'airflow-prod/sales_refresh', role: 'parent', job_namespace: 'airflow-prod', job_name: 'sales_refresh', run_id: '3b452093-782c-4ef2-9c0c-aafe2aa6f34d' },
      { id: 'postgres://db:5432/raw.sales', role: 'input', namespace: 'postgres://db:5432', name: 'raw.sales' },
      { id: 'postgres://db:5432/mart.sales', role: 'output', namespace: 'postgres://db:5432', name: 'mart.sales' },
    ]);
    assert.deepEqual(completed.payload, complete, 'the payload is the RunEvent as sent');
  });
});

describe('the event log unavailable', () => {
  let harness: IngestHarness;
  before(async () => {
    harness = await startIngestHarness();
  });
  after(async () => {
    execFileSync('bash', [servicesScript, 'start', 'kafka'], { stdio: 'ignore' });
    await harness.close();
  });

  test('answers 503 with Retry-After while the broker is down; the client retries land every event exactly as sent', async () => {
    const events = Array.from({ length: 20 }, (_, index) => ({ id: `outage-${index}`, event: 'outage.test', resource: { id: `res-${index % 4}` }, payload: { index } }));
    const before = await harness.post('/api/events', json(events.slice(0, 10)));
    assert.equal(before.status, 202);

    execFileSync('bash', [servicesScript, 'stop', 'kafka'], { stdio: 'ignore' });
    try {
      const during = await harness.post('/api/events', json(events.slice(10)));
      assert.equal(during.status, 503);
      assert.equal(during.headers.get('retry-after'), '5');
      const body = (await during.json()) as { error: string; message: string };
      assert.equal(body.error, 'event_log_unavailable');
      const ready = await fetch(`${harness.url}/readyz`);
      assert.equal(ready.status, 503);
    } finally {
      execFileSync('bash', [servicesScript, 'start', 'kafka'], { stdio: 'ignore' });
    }

    // The client retries with backoff until the broker is back.
    let status = 0;
    for (let attempt = 0; attempt < 60 && status !== 202; attempt++) {
      status = (await harness.post('/api/events', json(events.slice(10)))).status;
      if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    assert.equal(status, 202);

    const records = await harness.readAll(20);
    const ids = records.map((record) => record.event.id).sort();
    assert.deepEqual(ids, events.map((event) => event.id).sort(), 'every event exactly once');
    for (const record of records) {
      const sent = events.find((event) => event.id === record.event.id)!;
      assert.deepEqual(record.event.payload, sent.payload);
      assert.deepEqual(record.event.resource, sent.resource);
    }
  });
});
