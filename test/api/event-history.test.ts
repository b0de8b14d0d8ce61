import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEventPersister } from '../../history/event-persister.ts';
import { createLogger } from '../../platform/logger.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { waitFor } from '../support/wait-for.ts';

interface EventsPage {
  events: Array<{ id: string; event: string; occurred: string; resource: Record<string, string> }>;
  next?: string;
}

describe('event history: persister, query and live stream', () => {
  let harness: IngestHarness;
  let persister: { close(): Promise<void> };
  const get = async (path: string, key?: string) =>
    fetch(`${harness.url}${path}`, { headers: { authorization: `Bearer ${key ?? harness.adminKey}` } });

  before(async () => {
    harness = await startIngestHarness();
    persister = await startEventPersister({ db: harness.database.db, log: harness.log, logger: createLogger('silent'), retentionDays: 7 });
    const events = Array.from({ length: 25 }, (_, index) => ({
      id: `hist-${String(index).padStart(2, '0')}`,
      occurred: new Date(Date.UTC(2026, 10, 22, 8, index)).toISOString(),
      event: index % 5 === 0 ? 'airflow.dag_run.failed' : 'airflow.dag_run.success',
      resource: { id: `airflow.dag.d${index % 3}`, env: index % 2 === 0 ? 'prod' : 'dev' },
    }));
    assert.equal((await harness.post('/api/events', json(events))).status, 202);
    await waitFor('25 events persisted', async () => ((await (await get('/api/events?limit=1000')).json()) as EventsPage).events.length === 25);
  });
  after(async () => {
    await persister.close();
    await harness.close();
  });

  test('pages newest first with a cursor, every event exactly once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await (await get(`/api/events?limit=10${cursor ? `&cursor=${cursor}` : ''}`)).json()) as EventsPage;
      seen.push(...page.events.map((event) => event.id));
      cursor = page.next;
    } while (cursor);
    assert.deepEqual(seen, Array.from({ length: 25 }, (_, index) => `hist-${String(24 - index).padStart(2, '0')}`));
  });

  test('filters by time range, name glob, negated glob, resource and labels', async () => {
    const ids = async (query: string) => ((await (await get(`/api/events?limit=1000&${query}`)).json()) as EventsPage).events.map((event) => event.id).sort();
    assert.deepEqual(await ids('since=2026-11-22T08:20:00Z'), ['hist-20', 'hist-21', 'hist-22', 'hist-23', 'hist-24']);
    assert.deepEqual(await ids('since=2026-11-22T08:02:00Z&until=2026-11-22T08:04:00Z'), ['hist-02', 'hist-03']);
    assert.deepEqual(await ids('event=airflow.*.failed'), ['hist-00', 'hist-05', 'hist-10', 'hist-15', 'hist-20']);
    assert.equal((await ids('event=!airflow.dag_run.failed')).length, 20);
    assert.deepEqual(await ids('resource=airflow.dag.d0&label.env=prod'), ['hist-00', 'hist-06', 'hist-12', 'hist-18', 'hist-24']);
  });

  test('bad queries are a 400 naming the parameter; the read scope is required', async () => {
    const cases: Array<[string, RegExp]> = [
      ['since=yesterday', /since/],
      ['limit=5000', /limit: must be at most 1000/],
      ['event=a..b', /event/],
      ['cursor=nonsense', /cursor/],
    ];
    for (const [query, message] of cases) {
      const response = await get(`/api/events?${query}`);
      assert.equal(response.status, 400, query);
      assert.match(((await response.json()) as { message: string }).message, message);
    }
    assert.equal((await fetch(`${harness.url}/api/events`)).status, 401);
  });

  test('the live stream delivers new matching events only', async () => {
    const controller = new AbortController();
    const response = await fetch(`${harness.url}/api/events/stream?event=stream.*&label.env=prod`, {
      headers: { authorization: `Bearer ${harness.adminKey}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error('stream ended');
        text += new TextDecoder().decode(chunk.value as Uint8Array);
      }
    };
    await readUntil(/: connected/);
    const events = [
      { id: 'live-1', event: 'stream.tick', resource: { id: 'r', env: 'prod' } },
      { id: 'live-2', event: 'stream.tick', resource: { id: 'r', env: 'dev' } },
      { id: 'live-3', event: 'other.tick', resource: { id: 'r', env: 'prod' } },
      { id: 'live-4', event: 'stream.tock', resource: { id: 'r', env: 'prod' } },
    ];
    assert.equal((await harness.post('/api/events', json(events))).status, 202);
    await readUntil(/live-4/);
    const delivered = [...text.matchAll(/"id":"(live-\d)"/g)].map((match) => match[1]);
    assert.deepEqual(delivered, ['live-1', 'live-4']);
    controller.abort();
  });
});
