import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { relayPendingBatch } from '../../actions/outbox-relay.ts';
import { header, jsonBody } from '../stand-ins/http-stand-in.ts';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, startActionsHarness, type ActionsHarness } from './harness.ts';

const signingSecret = 'whsec_test_5f2a9c';

describe('call-webhook through outbox, relay, BullMQ and workers', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;

  before(async () => {
    harness = await startActionsHarness();
    receiver = await startWebhookReceiver({ secret: signingSecret });
    await harness.connections.upsert('receiver', { kind: 'webhook', signing_secret: signingSecret, headers: { Authorization: 'Bearer receiver-token' } });
  });
  after(async () => {
    await harness.close();
    await receiver.close();
  });

  test('delivers a templated, signed request with an idempotency key and records the run', async () => {
    const id = await harness.fire({
      kind: 'call-webhook',
      url: `${receiver.url}/hooks/{{ automation.name }}`,
      connection: 'receiver',
      headers: { 'X-Resource': '{{ event.resource.id }}' },
      body: { text: 'SLA missed for {{ event.resource.name }} ({{ for_each["resource.id"] }})', duration: '{{ event.payload.duration_s }}', quote: '{{ event.payload.owner }} said "hi"' },
      retry: fastRetry,
    });
    const run = await harness.waitForRun(id, 'succeeded');
    const [request] = receiver.attemptsOf(id);
    assert.ok(request, 'the receiver got the request');
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/hooks/sales-sla');
    assert.equal(header(request, 'x-resource'), 'airflow.dag.sales_refresh');
    assert.equal(header(request, 'authorization'), 'Bearer receiver-token');
    assert.equal(header(request, 'content-type'), 'application/json');
    assert.equal(header(request, 'idempotency-key'), id);
    assert.ok(verifySignature(signingSecret, header(request, 'x-vigil-signature'), request.body), 'valid HMAC signature');
    assert.deepEqual(jsonBody(request), {
      text: 'SLA missed for sales_refresh (airflow.dag.sales_refresh)',
      duration: 812, // typed: a one-expression template keeps the number
      quote: 'data-eng said "hi"',
    });
    assert.equal(run.attempts, 1);
    assert.equal(run.response_status, 200);
    assert.match(run.response_body ?? '', /received/);
    assert.equal(run.kind, 'call-webhook');
    assert.ok(run.duration_ms !== null && run.finished_at !== null);
    await waitFor('succeeded event', () => harness.emitted.some((event) => event.event === 'vigil.action.succeeded' && event.payload.run_id === id));
    assert.ok(harness.emitted.some((event) => event.event === 'vigil.action.started' && event.payload.run_id === id));
    const outbox = await harness.database.db.query<{ relayed_at: Date | null }>('SELECT relayed_at FROM action_outbox WHERE id = $1', [id]);
    assert.ok(outbox[0]?.relayed_at, 'outbox row marked relayed');
  });

  test('5xx answers are retried with the same idempotency key until the receiver accepts', async () => {
    receiver.failNext(2, { status: 503, path: /\/flaky$/ });
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/flaky`, connection: 'receiver', retry: fastRetry });
    const run = await harness.waitForRun(id, 'succeeded');
    const attempts = receiver.attemptsOf(id);
    assert.equal(attempts.length, 3);
    assert.deepEqual(attempts.map((request) => header(request, 'x-vigil-attempt')), ['1', '2', '3']);
    assert.equal(run.attempts, 3);
    assert.equal(receiver.deliveries.filter((key) => key === id).length, 1);
  });

  test('429 honours Retry-After', async () => {
    receiver.failNext(1, { status: 429, retryAfter: '1', path: /\/limited$/ });
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/limited`, connection: 'receiver', retry: fastRetry });
    await harness.waitForRun(id, 'succeeded');
    const attempts = receiver.attemptsOf(id);
    assert.equal(attempts.length, 2);
    assert.ok(attempts[1]!.at - attempts[0]!.at >= 900, `retried after ${attempts[1]!.at - attempts[0]!.at} ms`);
  });

  test('a 4xx fails at once, lands in the dead-letter list, and can be retried', async () => {
    receiver.failNext(1, { status: 422, body: { error: 'unknown field' }, path: /\/strict$/ });
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/strict`, connection: 'receiver', retry: fastRetry });
    const failed = await harness.waitForRun(id, 'failed');
    assert.equal(failed.attempts, 1);
    assert.equal(failed.response_status, 422);
    assert.match(failed.error ?? '', /HTTP 422/);
    assert.equal(receiver.attemptsOf(id).length, 1);
    await waitFor('failed event', () => harness.emitted.some((event) => event.event === 'vigil.action.failed' && event.payload.run_id === id));
    const deadList = await harness.runs.list({ status: 'failed' });
    assert.ok(deadList.some((run) => run.id === id));

    assert.equal(await harness.runs.retry(id), 'retried');
    const retried = await harness.waitForRun(id, 'succeeded');
    assert.equal(retried.attempts, 2);
    assert.equal(receiver.attemptsOf(id).length, 2);
    assert.equal(await harness.runs.retry(id), 'not-failed');
  });

  test('exhausting the attempts dead-letters with the reason', async () => {
    receiver.failNext(10, { status: 500, path: /\/down$/ });
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/down`, retry: { ...fastRetry, attempts: 3 } });
    const failed = await harness.waitForRun(id, 'failed');
    assert.equal(failed.attempts, 3);
    assert.match(failed.error ?? '', /gave up after 3 attempts.*HTTP 500/);
  });

  test('a receiver that does not answer in time is retried (timeout)', async () => {
    const hold = receiver.hold(/\/slow$/);
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/slow`, connection: 'receiver', timeout: '300ms', retry: fastRetry });
    await hold.held;
    await waitFor('a retry after the timeout', () => receiver.attemptsOf(id).length >= 2);
    hold.release();
    const run = await harness.waitForRun(id, 'succeeded');
    assert.ok(run.attempts >= 2);
  });

  test('a missing connection fails the action with a clear error', async () => {
    const id = await harness.fire({ kind: 'call-webhook', url: `${receiver.url}/x`, connection: 'nope', retry: fastRetry });
    const failed = await harness.waitForRun(id, 'failed');
    assert.match(failed.error ?? '', /connection "nope" does not exist/);
    assert.equal(failed.attempts, 1);
  });

  test('an outbox row is enqueued once even when relays run concurrently or again', async () => {
    await harness.relay?.close();
    harness.relay = undefined;
    const ids = await Promise.all(Array.from({ length: 20 }, (_, index) => harness.fire({ kind: 'call-webhook', url: `${receiver.url}/once/${index}`, connection: 'receiver', retry: fastRetry })));
    const relayed = await Promise.all([1, 2, 3].map(() => relayPendingBatch(harness.database.db, harness.queue, 7)));
    // Relay the same rows again as if a relay crashed before committing.
    await harness.database.db.query('UPDATE action_outbox SET relayed_at = NULL WHERE id = ANY($1::uuid[])', [ids]);
    let again = 0;
    for (let pass = await relayPendingBatch(harness.database.db, harness.queue, 100); pass > 0; pass = await relayPendingBatch(harness.database.db, harness.queue, 100)) again += pass;
    assert.equal(again, 20);
    assert.ok(relayed.reduce((sum, count) => sum + count, 0) <= 20);
    for (const id of ids) await harness.waitForRun(id, 'succeeded');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const id of ids) assert.equal(receiver.attemptsOf(id).length, 1, `run ${id} executed once`);
  });

  test('metrics count actions by kind and outcome', async () => {
    const text = await harness.metrics.metrics();
    assert.match(text, /vigil_actions_total\{kind="call-webhook",outcome="succeeded"\} \d+/);
    assert.match(text, /vigil_actions_total\{kind="call-webhook",outcome="retried"\} \d+/);
    assert.match(text, /vigil_action_duration_seconds_bucket/);
  });
});
