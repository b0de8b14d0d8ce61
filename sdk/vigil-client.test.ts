import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEventPersister } from '../history/event-persister.ts';
import { createLogger } from '../platform/logger.ts';
import type { ActionRun as ServerActionRun } from '../actions/action-runs.ts';
import type { AutomationResource } from '../api/automations/automation-resource.ts';
import type { FiringResource } from '../api/automations/firings-page.ts';
import type { DryRunResult } from '../triggers/dry-run.ts';
import { startIngestHarness, type IngestHarness } from '../test/support/ingest-harness.ts';
import { waitFor } from '../test/support/wait-for.ts';
import { VigilApiError, VigilDeliveryError } from './errors.ts';
import type { RetryInfo } from './event-batcher.ts';
import { startFaultProxy, type FaultProxy } from './testing/fault-proxy.ts';
import type { ActionRun, AutomationTestResult, Firing, IncomingEvent, StoredAutomation, VigilEvent } from './types.ts';
import { VigilClient, type VigilClientOptions } from './vigil-client.ts';

// The SDK's ActionRun mirrors the server's (actions/action-runs.ts): this fails to compile if they drift apart.
const _sameActionRun: [ActionRun, ServerActionRun] = [{} as ServerActionRun, {} as ActionRun];
// The server's dry-run result, automation resource and firing must fit the SDK's types.
const _dryRunFits: AutomationTestResult = {} as DryRunResult;
const _sameAutomation: [StoredAutomation, AutomationResource] = [{} as AutomationResource, {} as StoredAutomation];
const _sameFiring: [Firing, FiringResource] = [{} as FiringResource, {} as Firing];

let runCounter = 0;
/** A resource id unique to one test, so that its events can be told apart in the shared topic. */
function uniqueResource(what: string): string {
  runCounter++;
  return `sdk.test.${what}.${process.pid}.${runCounter}`;
}

function events(resource: string, count: number, name = 'sdk.test.happened'): IncomingEvent[] {
  return Array.from({ length: count }, (_, seq) => ({ event: name, resource: { id: resource }, payload: { seq } }));
}

/**
 * Sizes of the distinct JSON arrays posted to /api/events through the proxy. A retry resends the
 * same body (same event ids), so a transient 503 of the shared Kafka does not change the count.
 */
function batchSizes(proxy: FaultProxy): number[] {
  const bodies = new Set(proxy.requestsTo('POST', '/api/events').map((request) => request.body));
  return [...bodies].map((body) => (JSON.parse(body) as unknown[]).length);
}

describe('VigilClient against the real Vigil HTTP app over Kafka and PostgreSQL', () => {
  let harness: IngestHarness;
  let persister: { close(): Promise<void> };
  /** Events the tests have had accepted into the topic so far (readAll reads from the start). */
  let inTopic = 0;
  const proxies: FaultProxy[] = [];
  const clients: VigilClient[] = [];

  function client(url: string, options: Partial<VigilClientOptions> = {}): VigilClient {
    const created = new VigilClient({ url, apiKey: harness.adminKey, onError: () => undefined, ...options });
    clients.push(created);
    return created;
  }

  async function proxy(decide?: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
    const started = await startFaultProxy(harness.url, decide);
    proxies.push(started);
    return started;
  }

  /** The events of `resource` in the log, after `added` more were accepted. */
  async function consumed(resource: string, added: number): Promise<VigilEvent[]> {
    inTopic += added;
    const records = await harness.readAll(inTopic);
    return records.map((record) => record.event).filter((event) => event.resource.id === resource);
  }

  before(async () => {
    harness = await startIngestHarness();
    persister = await startEventPersister({ db: harness.database.db, log: harness.log, logger: createLogger('silent'), retentionDays: 7 });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close({ timeoutMs: 1_000 })));
    await Promise.all(proxies.map((p) => p.close()));
    await persister.close();
    await harness.close();
  });

  test('emit batches: N events go out in ceil(N / batchSize) requests, and each is consumed once', async () => {
    const through = await proxy();
    const resource = uniqueResource('batching');
    const sdk = client(through.url, { batchSize: 100 });
    for (const event of events(resource, 250)) assert.equal(sdk.emit(event), true);
    await sdk.flush();

    assert.deepEqual(batchSizes(through), [100, 100, 50]);
    const stats = sdk.stats();
    assert.equal(stats.delivered, 250);
    assert.equal(stats.buffered, 0);
    assert.equal(stats.requests - stats.retries, 3);

    const stored = await consumed(resource, 250);
    assert.equal(stored.length, 250, 'every event once');
    assert.deepEqual(new Set(stored.map((event) => (event.payload as { seq: number }).seq)).size, 250);
    assert.ok(stored.every((event) => /^[0-9a-f-]{36}$/.test(event.id)), 'the client assigned uuid ids');
  });

  test('maxConcurrentRequests: several batches in flight at once; flush waits for all of them', async () => {
    const resource = uniqueResource('concurrent');
    // The proxy holds every POST until three are waiting: with one request at a time this never happens.
    const held: Array<() => void> = [];
    const gate = await proxy((request) => {
      if (request.method !== 'POST' || held.length >= 3) return { forward: true }; // (a retry after the gate opened)
      return new Promise((resolve) => {
        held.push(() => resolve({ forward: true }));
        if (held.length === 3) for (const release of held) release();
      });
    });
    const sdk = client(gate.url, { batchSize: 10, maxConcurrentRequests: 3 });
    for (const event of events(resource, 30)) sdk.emit(event);
    await sdk.flush();
    assert.deepEqual(batchSizes(gate), [10, 10, 10]);
    assert.equal(sdk.stats().delivered, 30);
    assert.equal(sdk.stats().buffered, 0);
    assert.equal((await consumed(resource, 30)).length, 30);
  });

  test('close() delivers what is buffered without waiting for the flush interval, then refuses events', async () => {
    const through = await proxy();
    const resource = uniqueResource('close');
    const errors: VigilDeliveryError[] = [];
    const sdk = client(through.url, { flushIntervalMs: 3_600_000, onError: (error) => errors.push(error) });
    for (const event of events(resource, 30)) sdk.emit(event);
    assert.equal(sdk.stats().buffered, 30, 'nothing is sent before a batch is full or the interval passes');

    await sdk.close();
    assert.deepEqual(batchSizes(through), [30]);
    assert.equal(sdk.stats().delivered, 30);
    assert.equal((await consumed(resource, 30)).length, 30);

    assert.equal(sdk.emit(events(resource, 1)[0]!), false, 'emit after close is refused');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, 'closed');
    assert.equal(sdk.stats().dropped.closed, 1);
    await sdk.close(); // idempotent
  });

  test('a full buffer refuses new events and reports each one (onOverflow, else onError)', async () => {
    const through = await proxy();
    const resource = uniqueResource('overflow');
    const overflowed: unknown[] = [];
    const sdk = client(through.url, { maxBufferedEvents: 5, batchSize: 1_000, flushIntervalMs: 3_600_000, onOverflow: (event) => overflowed.push(event) });
    const sent = events(resource, 8);
    const results = sent.map((event) => sdk.emit(event));
    assert.deepEqual(results, [true, true, true, true, true, false, false, false]);
    assert.deepEqual(overflowed, sent.slice(5), 'onOverflow gets the refused events themselves');
    assert.equal(sdk.stats().dropped.overflow, 3);
    await sdk.flush();
    assert.deepEqual(batchSizes(through), [5]);
    assert.equal((await consumed(resource, 5)).length, 5);

    const errors: VigilDeliveryError[] = [];
    const withoutHandler = client(through.url, { maxBufferedEvents: 1, flushIntervalMs: 3_600_000, onError: (error) => errors.push(error) });
    withoutHandler.emit(events(resource, 1)[0]!);
    assert.equal(withoutHandler.emit(events(resource, 1)[0]!), false);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, 'overflow');
    assert.match(errors[0]!.message, /maxBufferedEvents/);
    await withoutHandler.flush();
    inTopic += 1;
  });

  test('invalid events are reported with their problems and never sent', async () => {
    const through = await proxy();
    const resource = uniqueResource('invalid');
    const errors: VigilDeliveryError[] = [];
    const sdk = client(through.url, { onError: (error) => errors.push(error) });
    const bad: unknown[] = [
      { event: 'a..b', resource: { id: resource } },
      { event: 'no.resource' },
      { event: 'extra.field', resource: { id: resource }, colour: 'red' },
      { event: 'too.big', resource: { id: resource }, payload: { blob: 'x'.repeat(300 * 1024) } },
      { event: 'not.json', resource: { id: resource }, payload: { n: 1n } },
      null,
    ];
    for (const event of bad) assert.equal(sdk.emit(event as IncomingEvent), false);
    assert.equal(sdk.emit(events(resource, 1)[0]!), true);
    await sdk.flush();

    assert.equal(errors.length, bad.length);
    assert.ok(errors.every((error) => error instanceof VigilDeliveryError && error.reason === 'invalid'));
    assert.equal(errors[0]!.problems?.[0]?.path, 'event');
    assert.match(errors[1]!.message, /resource/);
    assert.match(errors[2]!.message, /colour/);
    assert.match(errors[3]!.message, /bytes/);
    assert.match(errors[4]!.message, /serialize|BigInt/i);
    assert.equal(errors[0]!.events[0], bad[0], 'the report carries the event as given');
    assert.equal(sdk.stats().dropped.invalid, bad.length);
    assert.deepEqual(batchSizes(through), [1], 'only the valid event was sent');
    assert.equal((await consumed(resource, 1)).length, 1);
  });

  test('503 with Retry-After and cut connections are retried with backoff; nothing is lost or doubled', async () => {
    const resource = uniqueResource('retry');
    let posts = 0;
    const flaky = await proxy((request) => {
      if (request.method !== 'POST') return { forward: true };
      posts++;
      if (posts <= 2) return { answer: { status: 503, headers: { 'retry-after': '1' }, body: JSON.stringify({ error: 'event_log_unavailable', message: 'the event log cannot take writes right now' }) } };
      if (posts === 3) return { drop: true };
      return { forward: true };
    });
    const retries: RetryInfo[] = [];
    const sdk = client(flaky.url, { initialBackoffMs: 10, onRetry: (info) => retries.push(info) });
    for (const event of events(resource, 10)) sdk.emit(event);
    await sdk.flush();

    const bodies = flaky.requestsTo('POST', '/api/events').map((request) => request.body);
    // (More than 4 only if the shared Kafka itself answered 503 once more: then it was retried too.)
    assert.ok(bodies.length >= 4, 'two 503s, one cut connection, then delivered');
    assert.equal(new Set(bodies).size, 1, 'every attempt resends the same events with the same ids');
    assert.deepEqual(retries.slice(0, 3).map((retry) => [retry.attempt, retry.error.status]), [[1, 503], [2, 503], [3, 0]]);
    assert.ok(retries[0]!.delayMs >= 1_000 && retries[1]!.delayMs >= 1_000, 'Retry-After is honoured');
    assert.equal(retries[0]!.error.code, 'event_log_unavailable');
    assert.equal(sdk.stats().delivered, 10);
    assert.equal(sdk.stats().retries, bodies.length - 1);

    const stored = await consumed(resource, 10);
    assert.equal(stored.length, 10, 'each event once');
  });

  test('4xx other than 429 are not retried: the server\'s 422 and 401 reach onError with its message', async () => {
    const resource = uniqueResource('rejected');
    // The proxy corrupts the event name on the way, so the real intake answers 422.
    const corrupting = await proxy((request) => (request.method === 'POST' ? { forward: true, body: request.body.replaceAll('sdk.test.happened', 'sdk..bad') } : { forward: true }));
    const errors: VigilDeliveryError[] = [];
    const retries: RetryInfo[] = [];
    const sdk = client(corrupting.url, { onError: (error) => errors.push(error), onRetry: (info) => retries.push(info) });
    for (const event of events(resource, 3)) sdk.emit(event);
    await sdk.flush();
    assert.equal(corrupting.requestsTo('POST', '/api/events').length, 1, 'no retry');
    assert.equal(retries.length, 0);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, 'rejected');
    assert.equal(errors[0]!.events.length, 3);
    const cause = errors[0]!.cause as VigilApiError;
    assert.ok(cause instanceof VigilApiError);
    assert.equal(cause.status, 422);
    assert.equal(cause.code, 'invalid_events');
    assert.match(errors[0]!.message, /3 of 3 events are invalid/);
    assert.equal(cause.errors?.[0]?.path, 'event');
    assert.equal(sdk.stats().dropped.rejected, 3);

    const through = await proxy();
    const unauthorized = client(through.url, { apiKey: 'not-a-key-of-this-vigil', onError: (error) => errors.push(error) });
    unauthorized.emit(events(resource, 1)[0]!);
    await unauthorized.flush();
    assert.equal(through.requestsTo('POST', '/api/events').length, 1, 'no retry');
    assert.equal(errors.length, 2);
    assert.equal((errors[1]!.cause as VigilApiError).status, 401);
    assert.match(errors[1]!.message, /the API key is unknown or revoked/);
  });

  test('retries that run out, and close({ timeoutMs }) during retries, drop and report the batch', async () => {
    const resource = uniqueResource('exhausted');
    const down = await proxy(() => ({ answer: { status: 502, body: 'bad gateway' } }));
    const errors: VigilDeliveryError[] = [];
    const sdk = client(down.url, { maxRetries: 2, initialBackoffMs: 5, onError: (error) => errors.push(error) });
    for (const event of events(resource, 4)) sdk.emit(event);
    await sdk.flush();
    assert.equal(down.requests.length, 3, 'the first attempt and two retries');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.reason, 'retries_exhausted');
    assert.equal(errors[0]!.events.length, 4);
    assert.match(errors[0]!.message, /502/);
    assert.equal(sdk.stats().dropped.retries_exhausted, 4);

    const busy = await proxy(() => ({ answer: { status: 503, headers: { 'retry-after': '120' }, body: '{"error":"busy","message":"busy"}' } }));
    const closing = client(busy.url, { onError: (error) => errors.push(error) });
    for (const event of events(resource, 2)) closing.emit(event);
    await waitFor('the first attempt', () => busy.requests.length >= 1);
    await closing.close({ timeoutMs: 100 });
    assert.equal(errors.at(-1)!.reason, 'closed');
    assert.equal(closing.stats().dropped.closed, 2);
    assert.equal(closing.stats().buffered, 0);
  });

  test('events.query pages through the history; events.stream delivers new events; events.send returns ids', async () => {
    const through = await proxy();
    const resource = uniqueResource('history');
    const sdk = client(through.url);
    const sent = await sdk.events.send(events(resource, 25).map((event, seq) => ({ ...event, occurred: new Date(Date.UTC(2026, 0, 1, 0, seq)).toISOString() })));
    assert.equal(sent.accepted, 25);
    inTopic += 25;
    await waitFor('25 events persisted', async () => (await sdk.events.page({ resource, limit: 1_000 })).events.length === 25);

    const pagesBefore = through.requestsTo('GET', '/api/events').length;
    const seen: VigilEvent[] = [];
    for await (const event of sdk.events.query({ resource, pageSize: 10 })) seen.push(event);
    assert.equal(through.requestsTo('GET', '/api/events').length - pagesBefore, 3, 'three pages of 10');
    assert.deepEqual(seen.map((event) => event.id), [...sent.ids].reverse(), 'newest first, each once');

    const ranged = [];
    for await (const event of sdk.events.query({ resource, since: new Date(Date.UTC(2026, 0, 1, 0, 20)), until: '2026-01-01T00:22:00Z' })) ranged.push(event);
    assert.deepEqual(ranged.map((event) => (event.payload as { seq: number }).seq), [21, 20]);

    const stop = new AbortController();
    const live: VigilEvent[] = [];
    let opened = false;
    const streaming = (async () => {
      for await (const event of sdk.events.stream({ resource, event: 'sdk.test.live' }, { signal: stop.signal, onOpen: () => (opened = true) })) {
        live.push(event);
        if (live.length === 2) stop.abort();
      }
    })();
    await waitFor('the stream to open', () => opened);
    await sdk.events.send([...events(resource, 1, 'sdk.test.other'), ...events(resource, 2, 'sdk.test.live')]);
    inTopic += 3;
    await streaming;
    assert.deepEqual(live.map((event) => event.event), ['sdk.test.live', 'sdk.test.live']);
  });

  test('management calls throw VigilApiError with the server\'s status, code and message', async () => {
    const sdk = client(harness.url);
    await assert.rejects(sdk.events.page({ since: 'yesterday' }), (error: unknown) => {
      assert.ok(error instanceof VigilApiError);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'invalid_query');
      assert.match(error.message, /since/);
      return true;
    });
    const unauthorized = client(harness.url, { apiKey: 'wrong-key' });
    await assert.rejects(unauthorized.events.page(), (error: unknown) => error instanceof VigilApiError && error.status === 401 && /unknown or revoked/.test(error.message));
    await assert.rejects(
      (async () => {
        for await (const _event of unauthorized.events.stream()) break;
      })(),
      (error: unknown) => error instanceof VigilApiError && error.status === 401,
    );

    const closed = await startFaultProxy(harness.url);
    await closed.close();
    const unreachable = client(closed.url);
    await assert.rejects(unreachable.events.page(), (error: unknown) => error instanceof VigilApiError && error.status === 0 && error.code === 'network_error' && /cannot reach Vigil/.test(error.message));

    assert.throws(() => new VigilClient({ url: 'not a url', apiKey: 'k' }), /url must be/);
    assert.throws(() => new VigilClient({ url: harness.url, apiKey: 'k', batchSize: 20_000 }), /batchSize/);
  });

  test('automations: put (idempotent upsert), get, list, validate, test (stored and unsaved), firings, patch, delete', async () => {
    const sdk = client(harness.url);
    const name = uniqueResource('automation').replaceAll('.', '-');
    const automation = {
      name,
      description: 'two failures in an hour',
      trigger: { type: 'event' as const, expect: ['sdk.test.failed'], threshold: 2, within: '1h' },
    };
    const first = await sdk.automations.put(automation);
    assert.equal(first.created, true);
    assert.equal(first.automation.name, name);
    const again = await sdk.automations.put(automation);
    assert.deepEqual([again.created, again.changed], [false, false]);
    const changed = await sdk.automations.put({ ...automation, description: 'changed' });
    assert.deepEqual([changed.created, changed.changed], [false, true]);

    assert.equal((await sdk.automations.get(name)).description, 'changed');
    assert.ok((await sdk.automations.list()).some((stored) => stored.name === name));

    const valid = await sdk.automations.validate(automation);
    assert.ok(valid.valid);
    assert.equal(valid.automation.enabled, true, 'the normalized document, defaults filled in');
    const invalid = await sdk.automations.validate({ ...automation, trigger: { ...automation.trigger, within: 'soon' } });
    assert.equal(invalid.valid, false);
    assert.ok(!invalid.valid && invalid.errors.some((error) => error.path === 'trigger.within'));

    const resource = uniqueResource('automation-test');
    const dryRunEvents = (id: string): IncomingEvent[] => [
      { event: 'sdk.test.failed', resource: { id }, occurred: '2026-01-01T00:00:00Z' },
      { event: 'sdk.test.failed', resource: { id }, occurred: '2026-01-01T00:10:00Z' },
      { event: 'sdk.test.other', resource: { id }, occurred: '2026-01-01T00:20:00Z' },
    ];
    const dryRun = await sdk.automations.test(name, { events: dryRunEvents(resource) });
    assert.equal(dryRun.fired, 1);
    assert.equal(dryRun.firings.length, 1);
    assert.equal(dryRun.explanations.length, 3);

    const unsaved = await sdk.automations.test(name, { events: dryRunEvents(resource), automation: { ...automation, trigger: { ...automation.trigger, threshold: 3 } } });
    assert.equal(unsaved.fired, 0, 'an unsaved definition is tested instead of the stored one');

    const firings = [];
    for await (const firing of sdk.automations.firings(name)) firings.push(firing);
    assert.deepEqual(firings, [], 'a dry run writes no firings');

    assert.equal((await sdk.automations.setEnabled(name, false)).enabled, false);
    const patched = await sdk.automations.patch(name, { tags: ['sdk'] });
    assert.deepEqual([patched.enabled, patched.tags], [false, ['sdk']]);
    await sdk.automations.delete(name);
    await assert.rejects(sdk.automations.get(name), (error: unknown) => error instanceof VigilApiError && error.status === 404);
  });
});
