import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createConnectionsRepository, redacted, secretSet } from '../../actions/connections.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

describe('connections repository', () => {
  let database: TestDatabase;
  const key = randomBytes(32).toString('base64');
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  test('secrets are encrypted at rest and never returned; resolve decrypts them', async () => {
    const repository = createConnectionsRepository(database.db, key);
    const saved = await repository.upsert('oncall', { kind: 'slack', bot_token: 'xoxb-super-secret-token', api_url: 'https://slack.com/api' });
    assert.equal(saved.config.bot_token, secretSet);
    assert.ok(!('webhook_url' in saved.config), 'a secret never given is left out');
    assert.equal(saved.config.api_url, 'https://slack.com/api');
    assert.doesNotMatch(JSON.stringify(saved), /super-secret/);
    assert.doesNotMatch(JSON.stringify(await repository.get('oncall')), /super-secret/);
    assert.doesNotMatch(JSON.stringify(await repository.list()), /super-secret/);
    const raw = await database.db.query<Record<string, unknown>>('SELECT * FROM connections');
    assert.doesNotMatch(JSON.stringify(raw) + raw.map((row) => (row.secret_data as Buffer).toString('latin1')).join(''), /super-secret/);
    const resolved = await repository.resolve('oncall', 'slack');
    assert.equal(resolved.bot_token, 'xoxb-super-secret-token');
  });

  test('upsert replaces; delete removes', async () => {
    const repository = createConnectionsRepository(database.db, key);
    await repository.upsert('hook', { kind: 'webhook', signing_secret: 'one' });
    await repository.upsert('hook', { kind: 'webhook', signing_secret: 'two' });
    assert.equal((await repository.resolve('hook', 'webhook')).signing_secret, 'two');
    assert.equal(await repository.delete('hook'), true);
    assert.equal(await repository.delete('hook'), false);
    await assert.rejects(repository.resolve('hook', 'webhook'), /connection "hook" does not exist/);
  });

  test('a missing or different key, and a wrong kind, fail with clear errors', async () => {
    const repository = createConnectionsRepository(database.db, key);
    await repository.upsert('prefect', { kind: 'prefect', api_url: 'https://api.prefect.cloud/api/accounts/a/workspaces/w', api_key: 'pnu_x' });
    await assert.rejects(createConnectionsRepository(database.db, undefined).resolve('prefect', 'prefect'), /VIGIL_SECRET_KEY/);
    await assert.rejects(createConnectionsRepository(database.db, randomBytes(32)).resolve('prefect', 'prefect'), /another secret key/);
    await assert.rejects(repository.resolve('prefect', 'slack'), /is a prefect connection; this action needs a slack connection/);
    assert.throws(() => createConnectionsRepository(database.db, 'too-short'), /32 bytes/);
  });

  test('which secrets are set shows without the key; rows stored before that was kept learn it by decrypting, or say [redacted]', async () => {
    const repository = createConnectionsRepository(database.db, key);
    await repository.upsert('airflow-legacy', { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 1, username: 'u', password: 'pw-legacy' });
    const withoutKey = createConnectionsRepository(database.db, undefined);
    assert.deepEqual((await withoutKey.get('airflow-legacy'))?.config, { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 1, username: 'u', password: secretSet });
    // As stored by a Vigil before secret_fields existed.
    await database.db.query(`UPDATE connections SET secret_fields = NULL WHERE name = 'airflow-legacy'`);
    assert.deepEqual((await repository.get('airflow-legacy'))?.config, { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 1, username: 'u', password: secretSet });
    assert.deepEqual((await withoutKey.get('airflow-legacy'))?.config, { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 1, username: 'u', password: redacted, token: redacted });
  });

  test('tampered ciphertext is detected', async () => {
    const repository = createConnectionsRepository(database.db, key);
    await repository.upsert('tampered', { kind: 'webhook', signing_secret: 'abc' });
    await database.db.query(`UPDATE connections SET secret_data = set_byte(secret_data, 0, (get_byte(secret_data, 0) + 1) % 256) WHERE name = 'tampered'`);
    await assert.rejects(repository.resolve('tampered', 'webhook'), /cannot be decrypted/);
  });

  test('invalid connections are rejected', async () => {
    const repository = createConnectionsRepository(database.db, key);
    await assert.rejects(repository.upsert('slack-both', { kind: 'slack' }), /exactly one of webhook_url or bot_token/);
    await assert.rejects(repository.upsert('af', { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 3, token: 't' }));
    await assert.rejects(repository.upsert('bad name!', { kind: 'webhook' }), /connection names/);
  });
});
