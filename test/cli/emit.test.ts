import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { VigilEvent } from '../../schemas/event.ts';
import { startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { runCli, tempFiles, unreachableUrl } from './run-cli.ts';

describe('vigil emit against the real HTTP intake and Kafka', () => {
  let harness: IngestHarness;
  let env: Record<string, string>;
  /** Events accepted into the harness topic so far (readAll reads from the start). */
  let inTopic = 0;
  const logged = async (added: number): Promise<Map<string, VigilEvent>> => {
    inTopic += added;
    return new Map((await harness.readAll(inTopic)).map((record) => [record.event.id, record.event]));
  };

  before(async () => {
    harness = await startIngestHarness();
    env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.adminKey };
  });
  after(async () => {
    await harness.close();
  });

  test('an event from flags: prints its id, and the event is in the log with labels, related resources and payload', async () => {
    const result = await runCli(
      ['emit', 'airflow.dag_run.success', '--resource', 'airflow.dag.sales_refresh', '--label', 'env=prod', '--label', 'team=data',
        '--related', 'pool=airflow.pool.default', '--payload', '{"duration_s":812}', '--occurred', '2026-11-22T08:59:00+01:00'],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const id = result.stdout.trim();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'one uuidv7 id on stdout');

    const event = (await logged(1)).get(id);
    assert.ok(event, 'the event is in the log');
    assert.equal(event.event, 'airflow.dag_run.success');
    assert.deepEqual(event.resource, { id: 'airflow.dag.sales_refresh', env: 'prod', team: 'data' });
    assert.deepEqual(event.related, [{ id: 'airflow.pool.default', role: 'pool' }]);
    assert.deepEqual(event.payload, { duration_s: 812 });
    assert.equal(event.occurred, '2026-11-22T07:59:00.000Z');
  });

  test('events from NDJSON and JSON files (and stdin): every id printed, every event in the log', async () => {
    const files = await tempFiles({
      'events.ndjson': `${JSON.stringify({ id: 'cli-ndjson-1', event: 'cron.heartbeat', resource: { id: 'cron.backup' } })}\n\n${JSON.stringify({ id: 'cli-ndjson-2', event: 'cron.heartbeat', resource: { id: 'cron.backup' } })}\n`,
      'events.json': JSON.stringify([{ id: 'cli-json-1', event: 'dbt.run.completed', resource: { id: 'dbt.project.core' }, payload: { models: 42 } }]),
    });
    try {
      const result = await runCli(['emit', '-f', files.path('events.ndjson'), files.path('events.json')], { env });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.stdout.trim().split('\n'), ['cli-ndjson-1', 'cli-ndjson-2', 'cli-json-1']);

      const fromStdin = await runCli(['emit', '-f', '-', '--json'], { env, stdin: `${JSON.stringify({ id: 'cli-stdin-1', event: 'ci.build.passed', resource: { id: 'ci.repo' } })}\n` });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      assert.deepEqual(JSON.parse(fromStdin.stdout), { accepted: 1, ids: ['cli-stdin-1'] });

      const log = await logged(4);
      for (const id of ['cli-ndjson-1', 'cli-ndjson-2', 'cli-json-1', 'cli-stdin-1']) assert.ok(log.has(id), `${id} is in the log`);
      assert.deepEqual(log.get('cli-json-1')!.payload, { models: 42 });
    } finally {
      await files.remove();
    }
  });

  test('invalid events exit 1 with path-level messages, and nothing is sent', async () => {
    const files = await tempFiles({
      'mixed.ndjson': `${JSON.stringify({ id: 'cli-never-sent', event: 'fine.event', resource: { id: 'r' } })}\n${JSON.stringify({ event: 'bad..name', resource: { id: 'r' } })}\n{oops\n`,
    });
    try {
      const result = await runCli(['emit', '-f', files.path('mixed.ndjson')], { env: { ...env, VIGIL_URL: await unreachableUrl() } });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^vigil: 2 problems in the events; nothing was sent$/m);
      assert.match(result.stderr, /mixed\.ndjson:2: event: must be dot-separated segments/);
      assert.match(result.stderr, /mixed\.ndjson:3: invalid JSON/);

      const flags = await runCli(['emit', 'bad..name', '--resource', 'r'], { env });
      assert.equal(flags.code, 1);
      assert.match(flags.stderr, /event: event: must be dot-separated segments/);

      const payload = await runCli(['emit', 'ok.name', '--resource', 'r', '--payload', '{not json'], { env });
      assert.equal(payload.code, 1);
      assert.match(payload.stderr, /--payload: invalid JSON/);

      const notObject = await runCli(['emit', 'ok.name', '--resource', 'r', '--payload', '[1,2]'], { env });
      assert.equal(notObject.code, 1);
      assert.match(notObject.stderr, /payload: /);
    } finally {
      await files.remove();
    }
    const log = await logged(0);
    assert.ok(!log.has('cli-never-sent'), 'a batch with a bad event is not sent at all');
  });

  test('usage errors exit 2', async () => {
    const noResource = await runCli(['emit', 'some.event'], { env });
    assert.equal(noResource.code, 2);
    assert.match(noResource.stderr, /--resource <id> is required/);

    const nothing = await runCli(['emit'], { env });
    assert.equal(nothing.code, 2);

    const both = await runCli(['emit', 'some.event', '--resource', 'r', '-f', 'x.json'], { env });
    assert.equal(both.code, 2);

    const badLabel = await runCli(['emit', 'some.event', '--resource', 'r', '--label', 'novalue'], { env });
    assert.equal(badLabel.code, 2);
    assert.match(badLabel.stderr, /expected key=value/);

    const badTime = await runCli(['emit', 'some.event', '--resource', 'r', '--occurred', 'yesterday'], { env });
    assert.equal(badTime.code, 2);
  });

  test('server and network errors exit 3 with one line on stderr carrying the server\'s message', async () => {
    const wrongKey = await runCli(['emit', 'some.event', '--resource', 'r'], { env: { ...env, VIGIL_API_KEY: 'not-a-key' } });
    assert.equal(wrongKey.code, 3);
    assert.equal(wrongKey.stderr, 'vigil: the API key is unknown or revoked [401 unauthorized]\n');

    const downUrl = await unreachableUrl();
    const down = await runCli(['emit', 'some.event', '--resource', 'r', '--url', downUrl], { env });
    assert.equal(down.code, 3);
    assert.equal(down.stderr, `vigil: cannot reach Vigil at ${downUrl}: connect ECONNREFUSED ${downUrl.slice('http://'.length)}\n`);
  });

  test('the API key defaults to $VIGIL_DATA_DIR/admin-key (./.vigil/admin-key), the embedded mode key; no key is a usage error', async () => {
    const dir = await tempFiles({ '.vigil/admin-key': `${harness.adminKey}\n`, 'data/admin-key': harness.adminKey });
    try {
      const fromDefault = await runCli(['emit', 'cli.key.default', '--resource', 'r', '--id', 'cli-key-default'], { cwd: dir.dir, env: { VIGIL_URL: harness.url } });
      assert.equal(fromDefault.code, 0, fromDefault.stderr);
      const fromDataDir = await runCli(['emit', 'cli.key.datadir', '--resource', 'r', '--id', 'cli-key-datadir'], { env: { VIGIL_URL: harness.url, VIGIL_DATA_DIR: dir.path('data') } });
      assert.equal(fromDataDir.code, 0, fromDataDir.stderr);
      const flagWins = await runCli(['emit', 'cli.key.flag', '--resource', 'r', '--api-key', 'wrong'], { cwd: dir.dir, env: { VIGIL_URL: harness.url } });
      assert.equal(flagWins.code, 3);
      const fromEnvFile = await tempFiles({ '.env': `VIGIL_URL=${harness.url}\nVIGIL_API_KEY=${harness.adminKey}\n` });
      try {
        const viaEnvFile = await runCli(['emit', 'cli.key.envfile', '--resource', 'r', '--id', 'cli-key-envfile'], { cwd: fromEnvFile.dir });
        assert.equal(viaEnvFile.code, 0, viaEnvFile.stderr);
      } finally {
        await fromEnvFile.remove();
      }
      const log = await logged(3);
      assert.ok(log.has('cli-key-default') && log.has('cli-key-datadir') && log.has('cli-key-envfile'));

      const noKey = await runCli(['emit', 'x.y', '--resource', 'r'], { cwd: dir.path('data'), env: { VIGIL_URL: harness.url } });
      assert.equal(noKey.code, 2);
      assert.match(noKey.stderr, /^vigil: no API key: pass --api-key, set VIGIL_API_KEY, or run where an embedded Vigil keeps .*admin-key\n$/);
    } finally {
      await dir.remove();
    }
  });
});
