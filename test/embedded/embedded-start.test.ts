/**
 * `vigil start` in embedded mode, as a user runs it: a child process with no service URLs and a
 * fresh data directory. First start prints the URL and the generated admin key; events it
 * accepted (202) survive a SIGKILL; the restarted process keeps the key and prints only where it is,
 * and gets every accepted event into the history; a second process on the same data directory
 * is refused because of the store's lock.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openPgliteDatabase } from '../../platform/embedded/pglite-database.ts';
import { createTableEventLog } from '../../platform/embedded/table-event-log.ts';
import { startWebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { waitFor } from '../support/wait-for.ts';
import { type EmbeddedVigil, freePort, readAdminKey, spawnEmbeddedVigil, stopVigil, waitUntilReady } from './embedded-vigil.ts';

interface Accepted {
  accepted: number;
  ids: string[];
}

function batch(size: number, offset: number): Record<string, unknown>[] {
  return Array.from({ length: size }, (_, index) => ({
    event: 'dbt.model.built',
    resource: { id: `dbt.model.sales_${(offset + index) % 13}`, env: 'test' },
    payload: { sequence: offset + index },
  }));
}

async function postEvents(url: string, key: string, body: unknown): Promise<Accepted> {
  const response = await fetch(`${url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 202, `POST /api/events: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as Accepted;
}

/** Every event id of the history, following the cursors. */
async function historyIds(url: string, key: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(cursor === undefined ? {} : { cursor }) });
    const response = await fetch(`${url}/api/events?${query.toString()}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(response.status, 200, `GET /api/events: ${response.status} ${await response.clone().text()}`);
    const page = (await response.json()) as { events: { id: string }[]; next?: string };
    for (const event of page.events) ids.add(event.id);
    cursor = page.next;
  } while (cursor !== undefined);
  return ids;
}

describe('vigil start, embedded', () => {
  let root: string;
  let dataDir: string;
  const running: EmbeddedVigil[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vigil-embedded-start-'));
    dataDir = join(root, 'data');
  });

  after(async () => {
    for (const vigil of running) await stopVigil(vigil, 'SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  async function start(): Promise<EmbeddedVigil> {
    const vigil = spawnEmbeddedVigil({ dataDir, port: await freePort() });
    running.push(vigil);
    await waitUntilReady(vigil, 60_000, 50);
    return vigil;
  }

  test('keeps accepted events and the admin key across a SIGKILL, and refuses a second process', async () => {
    // First start on an empty data directory: prints where it runs and the new admin key.
    const first = await start();
    const key = await readAdminKey(dataDir);
    assert.match(key, /^vk_[\w-]{20,}$/);
    await waitFor('the start-up banner', () => first.stdout().includes(key), 5_000);
    assert.ok(first.stdout().includes(`Vigil is running at ${first.url}`), `banner with the URL expected in:\n${first.stdout()}`);

    const accepted: string[] = [];
    for (let request = 0; request < 20; request += 1) {
      const result = await postEvents(first.url, key, batch(50, request * 50));
      assert.equal(result.accepted, 50);
      accepted.push(...result.ids);
    }
    const single = await postEvents(first.url, key, batch(1, 10_000)[0]);
    accepted.push(...single.ids);
    assert.equal(new Set(accepted).size, 1001);

    // Killed without a chance to flush anything: what got a 202 was committed.
    assert.equal(await stopVigil(first, 'SIGKILL'), 'SIGKILL');

    const second = await start();
    assert.equal(await readAdminKey(dataDir), key, 'the admin key survives a restart');
    assert.ok(!second.stdout().includes(key) && second.stdout().includes(`Vigil is running at ${second.url}`), `a banner without the key on a second start:\n${second.stdout()}`);

    // The persister resumes from its committed position: the history ends up with every event.
    const missingFromHistory = await waitFor(
      'the history to hold every accepted event',
      async () => {
        const ids = await historyIds(second.url, key);
        return accepted.every((id) => ids.has(id)) ? [] : false;
      },
      30_000,
      250,
    );
    assert.deepEqual(missingFromHistory, []);

    // A second process on the same data directory is refused: the store is locked.
    const intruder = spawnEmbeddedVigil({ dataDir, port: await freePort() });
    running.push(intruder);
    const exitCode = await intruder.exited;
    assert.notEqual(exitCode, 0);
    const said = `${intruder.stdout()}${intruder.stderr()}`;
    assert.match(said, /embedded store .* is in use by process \d+/, `a clear refusal expected, got:\n${said}`);
    assert.equal(second.child.exitCode, null, 'the running process is not disturbed');
    assert.equal((await fetch(`${second.url}/readyz`)).status, 200);

    assert.equal(await stopVigil(second), 0, 'SIGTERM stops it cleanly');

    // And the event log itself, read directly once the process is gone, holds every accepted event.
    const db = await openPgliteDatabase({ dataDir: join(dataDir, 'store') });
    try {
      const log = await createTableEventLog({ db });
      const inLog = new Set<string>();
      for await (const record of log.readSince(new Date(0))) inLog.add(record.event.id);
      await log.close();
      assert.deepEqual(
        accepted.filter((id) => !inLog.has(id)),
        [],
        'every accepted event is in the event log',
      );
    } finally {
      await db.close();
    }
  });

  test('runs actions: an event fires a webhook, the run is recorded and its lifecycle events reach the history', async () => {
    const receiver = await startWebhookReceiver();
    const actionsDir = join(root, 'actions');
    const vigil = spawnEmbeddedVigil({ dataDir: actionsDir, port: await freePort(), env: { VIGIL_EGRESS_ALLOWLIST: '127.0.0.1', VIGIL_LOG_LEVEL: 'info', VIGIL_LOG_FORMAT: 'pretty' } });
    running.push(vigil);
    try {
      await waitUntilReady(vigil, 60_000, 50);
      const key = await readAdminKey(actionsDir);
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
      const saved = await fetch(`${vigil.url}/api/automations/model-built-hook`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({
          name: 'model-built-hook',
          trigger: { type: 'event', expect: ['dbt.model.built'] },
          actions: [{ kind: 'call-webhook', url: `${receiver.url}/built`, body: { model: '{{ event.resource.id }}' } }],
        }),
      });
      assert.ok(saved.ok, `PUT automation: ${saved.status} ${await saved.clone().text()}`);
      const sent = await postEvents(vigil.url, key, batch(3, 0));

      await waitFor('three webhooks', () => receiver.deliveries.length >= 3, 30_000, 50);
      const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { model: string });
      assert.deepEqual(bodies.map((body) => body.model).sort(), ['dbt.model.sales_0', 'dbt.model.sales_1', 'dbt.model.sales_2']);

      const runs = await waitFor(
        'three succeeded runs',
        async () => {
          const response = await fetch(`${vigil.url}/api/action-runs?automation=model-built-hook`, { headers });
          const page = (await response.json()) as { action_runs: { status: string; attempts: number; response_status: number }[] };
          return page.action_runs.filter((run) => run.status === 'succeeded').length === 3 ? page.action_runs : false;
        },
        30_000,
        100,
      );
      assert.ok(runs.every((run) => run.attempts === 1 && run.response_status === 200));
      const history = await waitFor(
        'the lifecycle events in the history',
        async () => {
          const ids = await historyIds(vigil.url, key);
          return ids.size >= sent.ids.length + 9 ? ids : false;
        },
        30_000,
        250,
      );
      for (const id of sent.ids) assert.ok(history.has(id));
      // A person watching the terminal sees each firing and each action's outcome, in readable lines.
      const said = vigil.stdout();
      assert.equal(said.match(/INFO.*automation model-built-hook fired/g)?.length, 3, said);
      assert.equal(said.match(/INFO.*action call-webhook of model-built-hook succeeded in \d+ ms \(HTTP 200\)/g)?.length, 3, said);
      assert.doesNotMatch(said, /^\{"level"/m, 'no JSON lines in the pretty format');
    } finally {
      await receiver.close();
    }
  });
});
