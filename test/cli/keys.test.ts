import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ApiKeyResource } from '../../schemas/api-key.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { freePort, readAdminKey, spawnEmbeddedVigil, stopVigil, waitUntilReady, type EmbeddedVigil } from '../embedded/embedded-vigil.ts';
import { runCli, tempFiles, unreachableUrl } from './run-cli.ts';

/*
 * vigil keys create|list|revoke: through the HTTP API of a running Vigil (the real app over
 * PostgreSQL; an embedded `vigil start` in a child process), or on the database directly when
 * no Vigil answers at the default address or with --local (PostgreSQL; the embedded store).
 * Each command says on stderr which path it took.
 */

interface Created {
  id: string;
  name: string;
  scopes: string[];
  created_at: string;
  secret: string;
}

/** Settings that make the CLI run embedded: no service URLs (empty = unset for Vigil's configuration). */
const embeddedEnv = { DATABASE_URL: '', KAFKA_BROKERS: '', REDIS_URL: '' };

async function authenticates(url: string, secret: string, path = '/api/automations'): Promise<number> {
  return (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${secret}` } })).status;
}

describe('vigil keys against a running Vigil (HTTP API, PostgreSQL)', () => {
  let harness: ActionsApiHarness;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });

  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, queue: false });
    env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.adminKey };
  });
  after(async () => {
    await harness?.close();
  });

  test('create prints the key with its secret once, says it used the API; list shows it without the secret; revoke stops it', async () => {
    const created = await cli('keys', 'create', '--name', 'airflow-prod', '--scopes', 'events:write,read');
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stderr, `vigil: through the API of the Vigil at ${harness.url}\n`);
    const key = JSON.parse(created.stdout) as Created;
    assert.deepEqual(Object.keys(key).sort(), ['created_at', 'id', 'name', 'scopes', 'secret']);
    assert.deepEqual(key.scopes, ['events:write', 'read']);
    assert.equal(await authenticates(harness.url, key.secret), 200);

    const table = await cli('keys', 'list');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID +NAME +SCOPES +CREATED +LAST USED$/);
    assert.match(table.stdout, new RegExp(`^${key.id} +airflow-prod +events:write,read +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ +\\d{4}-`, 'm'));
    assert.ok(!table.stdout.includes(key.secret));
    const json = await cli('keys', 'list', '--json');
    const listed = JSON.parse(json.stdout) as ApiKeyResource[];
    assert.deepEqual(listed.map((entry) => entry.name), ['reader', 'sender', 'airflow-prod']);
    assert.ok(!json.stdout.includes(key.secret));

    const revoked = await cli('keys', 'revoke', key.id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked ${key.id}\n`);
    assert.equal(await authenticates(harness.url, key.secret), 401);
    const again = await cli('keys', 'revoke', key.id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no API key .* that authenticates \(unknown or already revoked\) \[404 not_found\]/);
  });

  test('refusals: a non-admin key (3, with the server\'s message), an unknown scope (2), an explicit address that does not answer (3, never a silent switch)', async () => {
    const reader = await runCli(['keys', 'list'], { env: { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.readKey } });
    assert.equal(reader.code, 3);
    assert.match(reader.stderr, /lacks the "admin" scope.*\[403 forbidden\]/);
    const scope = await cli('keys', 'create', '--name', 'x', '--scopes', 'write');
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /unknown scope "write"; use events:write, read, admin/);
    const down = await runCli(['keys', 'list'], { env: { VIGIL_URL: await unreachableUrl(), VIGIL_API_KEY: harness.adminKey } });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach Vigil at .*ECONNREFUSED.*with --local the command works on the database directly/);
  });

  test('--local works on PostgreSQL directly (DATABASE_URL), with no key, and says so', async () => {
    const files = await tempFiles({});
    try {
      const local = { DATABASE_URL: harness.database.url, KAFKA_BROKERS: '127.0.0.1:9', REDIS_URL: 'redis://127.0.0.1:9' };
      const created = await runCli(['keys', 'create', '--name', 'bootstrap', '--scopes', 'admin', '--local'], { env: local, cwd: files.dir });
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stderr, 'vigil: --local: used the database at DATABASE_URL directly\n');
      const key = JSON.parse(created.stdout) as Created;
      assert.equal(await authenticates(harness.url, key.secret, '/api/keys'), 200, 'the running API accepts a key created beside it');
      const revoked = await runCli(['keys', 'revoke', key.id, '--local'], { env: local, cwd: files.dir });
      assert.equal(revoked.code, 0, revoked.stderr);
      // The API process learns of a revocation written by another process at once (NOTIFY).
      assert.equal(await authenticates(harness.url, key.secret, '/api/keys'), 401);
    } finally {
      await files.remove();
    }
  });
});

describe('vigil keys in embedded mode', () => {
  let files: Awaited<ReturnType<typeof tempFiles>>;
  let dataDir: string;
  let port: number;
  let vigil: EmbeddedVigil | undefined;
  const cli = (...args: string[]) => runCli(args, { env: { ...embeddedEnv, VIGIL_DATA_DIR: dataDir, VIGIL_PORT: String(port) }, cwd: files.dir });

  before(async () => {
    files = await tempFiles({});
    dataDir = join(files.dir, 'data');
    await mkdir(dataDir);
    port = await freePort();
  });
  after(async () => {
    if (vigil) await stopVigil(vigil);
    await files.remove();
  });

  test('with no Vigil running, create and list work on the embedded store, and say why', async () => {
    // No admin key yet: nothing to call the API with.
    const first = await cli('keys', 'create', '--name', 'cron', '--scopes', 'events:write');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, `vigil: no API key for a running Vigil is configured: used the embedded store in ${dataDir} directly\n`);
    // With the admin key file of an earlier start, but nothing listening at the default address.
    await writeFile(join(dataDir, 'admin-key'), 'vk_from_an_earlier_start_000000000000\n');
    const listed = await cli('keys', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stderr, `vigil: no Vigil answered at http://127.0.0.1:${port}: used the embedded store in ${dataDir} directly\n`);
    assert.deepEqual((JSON.parse(listed.stdout) as ApiKeyResource[]).map((key) => key.name), ['cron']);
  });

  test('while vigil start runs, create goes through its API (no longer refused), the key works, revoke stops it; --local explains the lock', async () => {
    await rm(join(dataDir, 'admin-key')); // let `vigil start` generate its own
    vigil = spawnEmbeddedVigil({ dataDir, port });
    await waitUntilReady(vigil);
    assert.ok((await readAdminKey(dataDir)).startsWith('vk_'));

    const created = await cli('keys', 'create', '--name', 'airflow', '--scopes', 'events:write');
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stderr, `vigil: through the API of the Vigil at http://127.0.0.1:${port}\n`);
    const key = JSON.parse(created.stdout) as Created;
    const sent = await fetch(`${vigil.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'airflow.dag_run.success', resource: { id: 'airflow.dag.sales' } }),
    });
    assert.equal(sent.status, 202, await sent.text());

    const listed = await cli('keys', 'list', '--json');
    assert.deepEqual((JSON.parse(listed.stdout) as ApiKeyResource[]).map((entry) => entry.name), ['cron', 'airflow'], 'the key made before the start is in the same store');

    const locked = await cli('keys', 'list', '--local');
    assert.equal(locked.code, 3);
    assert.match(locked.stderr, /is in use by process \d+.*a running Vigil holds it: run the command without --local/);

    assert.equal((await cli('keys', 'revoke', key.id)).code, 0);
    assert.equal(await authenticates(vigil.url, key.secret, '/api/events?limit=1'), 401);
  });
});
