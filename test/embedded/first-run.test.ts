/**
 * A first run that explains itself (issue #12): embedded mode without VIGIL_SECRET_KEY makes a
 * secret key and keeps it beside the admin key, so a connection saved on one start still works
 * after a restart; every start prints where Vigil runs and where the admin key is; a key that
 * cannot decrypt the stored connections is a warning at start; a port already in use stops the
 * start before the store is created, with one line naming the variable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type EmbeddedVigil, freePort, readAdminKey, spawnEmbeddedVigil, stopVigil, waitUntilReady } from './embedded-vigil.ts';

describe('vigil start, first run (embedded)', () => {
  let root: string;
  let dataDir: string;
  const running: EmbeddedVigil[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vigil-first-run-'));
    dataDir = join(root, 'data');
  });
  after(async () => {
    for (const vigil of running) await stopVigil(vigil, 'SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  async function start(env: Record<string, string | undefined> = {}): Promise<EmbeddedVigil> {
    const vigil = spawnEmbeddedVigil({ dataDir, port: await freePort(), env: { VIGIL_SECRET_KEY: undefined, ...env } });
    running.push(vigil);
    await waitUntilReady(vigil, 60_000, 50);
    return vigil;
  }

  const putConnection = (vigil: EmbeddedVigil, key: string, token: string) =>
    fetch(`${vigil.url}/api/connections/slack-oncall`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ kind: 'slack', bot_token: token }),
    });

  test('a secret key is made once and kept (0600) beside the admin key; connections survive a restart; every start has its banner', async () => {
    const first = await start();
    const adminKey = await readAdminKey(dataDir);
    const secretFile = join(dataDir, 'secret-key');
    const secret = (await readFile(secretFile, 'utf8')).trim();
    assert.equal(Buffer.from(secret, 'base64').length, 32);
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
    assert.match(first.stdout(), new RegExp(`key generated now and kept in ${secretFile.replaceAll('/', '\\/')}`));
    assert.equal((await putConnection(first, adminKey, 'xoxb-first')).status, 201, 'a connection can be saved without setting VIGIL_SECRET_KEY');
    assert.equal(await stopVigil(first), 0);

    const second = await start();
    assert.equal((await readFile(secretFile, 'utf8')).trim(), secret, 'the same key on the next start');
    const said = second.stdout();
    assert.ok(said.includes(`Vigil is running at ${second.url}`), `banner on every start:\n${said}`);
    assert.ok(said.includes(`The admin API key is in ${join(dataDir, 'admin-key')}`), said);
    assert.ok(!said.includes(adminKey) && !said.includes('generated now'), `no key printed on a later start:\n${said}`);
    assert.doesNotMatch(`${said}${second.stderr()}`, /cannot be decrypted/);
    // "[redacted]" keeps the stored secret: this reads it back with the key of the first start.
    assert.equal((await putConnection(second, adminKey, '[redacted]')).status, 200, 'the stored secret is readable after a restart');
    assert.equal(await stopVigil(second), 0);

    const wrongKey = await start({ VIGIL_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'), VIGIL_LOG_LEVEL: 'warn' });
    const warned = `${wrongKey.stdout()}${wrongKey.stderr()}`;
    assert.match(warned, /1 stored connection\(s\) cannot be decrypted with the configured VIGIL_SECRET_KEY/);
    assert.match(warned, /slack-oncall/);
    assert.equal(await stopVigil(wrongKey), 0);
  });

  test('a port already in use stops the start before the store is made, with one line naming VIGIL_PORT', async () => {
    const freshDir = join(root, 'fresh');
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const vigil = spawnEmbeddedVigil({ dataDir: freshDir, port, env: { VIGIL_SECRET_KEY: undefined } });
      running.push(vigil);
      const code = await vigil.exited;
      assert.notEqual(code, 0);
      const said = `${vigil.stdout()}${vigil.stderr()}`.trim();
      assert.equal(said.split('\n').length, 1, `one line expected:\n${said}`);
      assert.match(said, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use: set VIGIL_PORT`));
      await assert.rejects(stat(join(freshDir, 'store')), 'no store was created or migrated');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
