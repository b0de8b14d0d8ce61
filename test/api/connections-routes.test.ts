import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ActionRun } from '../../actions/action-runs.ts';
import type { RedactedConnection } from '../../schemas/connection.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { firingContext, secretKey } from '../actions/harness.ts';
import { waitFor } from '../support/wait-for.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

/*
 * GET /api/connections, GET|PUT|DELETE /api/connections/{name} over the real HTTP app,
 * PostgreSQL and BullMQ (a queue prefix of this file's own). Secrets are write-only: no response
 * body and no log line of the API or the action workers may ever contain one, including when a
 * receiver echoes the credentials an action sent it.
 */

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Every secret value this file sends; none may come back. */
const secrets = {
  botToken: `xoxb-${randomBytes(12).toString('hex')}`,
  webhookUrl: `https://hooks.slack.com/services/T000/B000/${randomBytes(12).toString('hex')}`,
  signingSecret: `whsec_${randomBytes(12).toString('hex')}`,
  authorization: `Bearer tok_${randomBytes(12).toString('hex')}`,
  prefectKey: `pnu_${randomBytes(12).toString('hex')}`,
  prefectKey2: `pnu_${randomBytes(12).toString('hex')}`,
  airflowPassword: `pw-${randomBytes(12).toString('hex')}`,
  invalidToken: `xoxb-invalid-${randomBytes(12).toString('hex')}`,
  invalidUrl: `https://hooks.slack.com/services/T1/B1/${randomBytes(12).toString('hex')}`,
};

function assertNoSecrets(texts: readonly string[], where: string): void {
  assert.ok(texts.length > 0, `${where}: something to check`);
  for (const [name, value] of Object.entries(secrets)) {
    const leak = texts.find((text) => text.includes(value));
    assert.equal(leak, undefined, `${where}: the ${name} secret leaked: ${leak?.slice(0, 300)}`);
  }
}

describe('connections routes with VIGIL_SECRET_KEY', () => {
  let harness: ActionsApiHarness;
  let receiver: Server;
  let receiverUrl: string;

  before(async () => {
    // Echoes the request headers back, as some receivers do: /echo with 200, /echo-fail with 400;
    // /echo-cut answers 400 with the Authorization value right where error messages cut the body (200 characters).
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        if (request.url === '/echo-cut') {
          response.writeHead(400, { 'content-type': 'text/plain' }).end(`${'x'.repeat(180)}${request.headers.authorization ?? ''}`);
          return;
        }
        const status = request.url === '/echo-fail' ? 400 : 200;
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ you_sent: request.headers }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    harness = await startActionsApiHarness({ secretKey });
  });
  after(async () => {
    await harness.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const put = (name: string, body: unknown, options: { key?: string | null; contentType?: string | null } = {}) =>
    harness.request('PUT', `/api/connections/${name}`, { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : (body as object), ...options });

  test('PUT creates (201) and replaces (200); every kind comes back with each secret given shown as "set", the others left out', async () => {
    // name, connection, secret fields given, secret fields never given
    const cases: Array<[string, Record<string, unknown>, string[], string[]]> = [
      ['slack-oncall', { kind: 'slack', bot_token: secrets.botToken, pacing_ms: 500 }, ['bot_token'], ['webhook_url']],
      ['slack-hook', { kind: 'slack', webhook_url: secrets.webhookUrl }, ['webhook_url'], ['bot_token']],
      ['signed-hook', { kind: 'webhook', signing_secret: secrets.signingSecret, headers: { Authorization: secrets.authorization } }, ['signing_secret', 'headers'], []],
      ['plain-hook', { kind: 'webhook' }, [], ['signing_secret', 'headers']],
      ['prefect-cloud', { kind: 'prefect', api_url: 'https://api.prefect.cloud/api/accounts/a/workspaces/w', api_key: secrets.prefectKey }, ['api_key'], ['auth_string']],
      ['airflow.prod', { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 2, username: 'vigil', password: secrets.airflowPassword }, ['password'], ['token']],
    ];
    for (const [name, config, given, notGiven] of cases) {
      const created = await put(name, config);
      assert.equal(created.status, 201, `${name}: ${created.text}`);
      const body = created.body as RedactedConnection;
      assert.equal(body.name, name);
      assert.equal(body.kind, config.kind);
      for (const field of given) assert.equal(body.config[field], 'set', `${name}.${field}`);
      for (const field of notGiven) assert.ok(!(field in body.config), `${name}.${field} was never given: ${JSON.stringify(body.config)}`);
      const secretFieldNames = [...given, ...notGiven];
      for (const [field, value] of Object.entries(config)) {
        if (!secretFieldNames.includes(field)) assert.deepEqual(body.config[field], value, `${name}.${field} is returned as sent`);
      }
    }
    const replaced = await put('slack-oncall', { kind: 'slack', bot_token: secrets.botToken, pacing_ms: 2_000 });
    assert.equal(replaced.status, 200);
    assert.equal((replaced.body as RedactedConnection).config.pacing_ms, 2_000);
    assert.notEqual((replaced.body as RedactedConnection).updated_at, (replaced.body as RedactedConnection).created_at);

    const one = await harness.request('GET', '/api/connections/airflow.prod');
    assert.equal(one.status, 200);
    assert.deepEqual((one.body as RedactedConnection).config, { kind: 'airflow', base_url: 'http://airflow:8080', api_version: 2, username: 'vigil', password: 'set' });

    const list = await harness.request('GET', '/api/connections');
    assert.equal(list.status, 200);
    const names = (list.body as { connections: RedactedConnection[] }).connections.map((connection) => connection.name);
    assert.deepEqual(names, ['airflow.prod', 'plain-hook', 'prefect-cloud', 'signed-hook', 'slack-hook', 'slack-oncall']);
    const listedHook = (list.body as { connections: RedactedConnection[] }).connections.find((connection) => connection.name === 'signed-hook');
    assert.deepEqual(listedHook?.config, { kind: 'webhook', signing_secret: 'set', headers: 'set' });

    // The workers still get the real values.
    assert.equal((await harness.connections.resolve('signed-hook', 'webhook')).headers.Authorization, secrets.authorization);
    assert.equal((await harness.connections.resolve('slack-oncall', 'slack')).bot_token, secrets.botToken);
  });

  test('a secret sent back as "set" (or "[redacted]") keeps the stored value; with nothing stored it is a 422', async () => {
    const read = (await harness.request('GET', '/api/connections/prefect-cloud')).body as RedactedConnection;
    assert.equal(read.config.api_key, 'set');
    const edited: Record<string, unknown> = { ...read.config, api_url: 'https://api.prefect.cloud/api/accounts/b/workspaces/w' };
    const saved = await put('prefect-cloud', edited);
    assert.equal(saved.status, 200, saved.text);
    const resolved = await harness.connections.resolve('prefect-cloud', 'prefect');
    assert.equal(resolved.api_key, secrets.prefectKey, 'the stored key is kept');
    assert.equal(resolved.api_url, 'https://api.prefect.cloud/api/accounts/b/workspaces/w');

    // A new value replaces it.
    assert.equal((await put('prefect-cloud', { ...edited, api_key: secrets.prefectKey2 })).status, 200);
    assert.equal((await harness.connections.resolve('prefect-cloud', 'prefect')).api_key, secrets.prefectKey2);

    // The older placeholder keeps it too; the secret fields set stay the same.
    assert.equal((await put('prefect-cloud', { ...edited, api_key: '[redacted]' })).status, 200);
    assert.equal((await harness.connections.resolve('prefect-cloud', 'prefect')).api_key, secrets.prefectKey2);
    assert.deepEqual(((await harness.request('GET', '/api/connections/prefect-cloud')).body as RedactedConnection).config, { kind: 'prefect', api_url: 'https://api.prefect.cloud/api/accounts/b/workspaces/w', api_key: 'set' });

    const fresh = await put('prefect-new', { kind: 'prefect', api_url: 'http://prefect:4200/api', api_key: 'set' });
    assert.equal(fresh.status, 422);
    assert.deepEqual((fresh.body as Problem).errors?.map((problem) => problem.path), ['api_key']);
    assert.match((fresh.body as Problem).errors![0]!.message, /there is no connection "prefect-new" yet; send the secret's value/);
    assert.equal((await harness.request('GET', '/api/connections/prefect-new')).status, 404);
  });

  test('invalid bodies: malformed JSON is a 400; wrong fields and types a 422 listing every problem by path', async () => {
    const malformed: Array<[string | Buffer, string]> = [
      ['{"kind": "webhook",', 'malformed_json'],
      ['', 'malformed_json'],
      [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_encoding'],
      ['{"kind": "webhook", "__proto__": {"admin": true}}', 'forbidden_key'],
    ];
    for (const [body, code] of malformed) {
      const response = await put('broken', body);
      assert.equal(response.status, 400, `${String(body)}: ${response.text}`);
      assert.equal((response.body as Problem).error, code);
    }
    const unsupported = await put('broken', '{"kind":"webhook"}', { contentType: 'text/plain' });
    assert.equal(unsupported.status, 415);
    assert.match((unsupported.body as Problem).message, /application\/json/);

    const invalid: Array<[unknown, string[], RegExp]> = [
      [{ kind: 'slack', webhook_url: 5 }, ['webhook_url'], /expected string/],
      [{ kind: 'ftp' }, ['kind'], /slack/],
      [{}, ['kind'], /slack/],
      [[{ kind: 'webhook' }], [''], /expected object/],
      ['"webhook"', [''], /expected object/],
      [{ kind: 'webhook', signing_secret: 'x', extra: 1, more: true }, ['extra', 'more'], /unknown field/],
      [{ kind: 'webhook', headers: { 'bad header': 'x' } }, ['headers.bad header'], /key/],
      [{ kind: 'airflow', base_url: 'ftp://airflow', api_version: 3, token: 't' }, ['base_url', 'api_version'], /http\(s\) URL/],
      [{ kind: 'slack', bot_token: secrets.invalidToken, webhook_url: secrets.invalidUrl }, [''], /exactly one of webhook_url or bot_token/],
      [{ kind: 'slack', bot_token: `${secrets.invalidToken}${'x'.repeat(5_000)}` }, ['bot_token'], /4096/],
    ];
    for (const [body, paths, message] of invalid) {
      const response = await put('broken', typeof body === 'string' ? body : body);
      assert.equal(response.status, 422, `${JSON.stringify(body).slice(0, 80)}: ${response.text}`);
      const problem = response.body as Problem;
      assert.equal(problem.error, 'invalid_connection');
      assert.deepEqual(problem.errors?.map((entry) => entry.path), paths, JSON.stringify(body).slice(0, 80));
      assert.match(problem.message, message);
    }
    assert.equal((await harness.request('GET', '/api/connections/broken')).status, 404, 'nothing was saved');

    for (const name of ['bad%20name', '-leading-dash', '.hidden', `${'x'.repeat(98)}!`]) {
      const response = await put(name, { kind: 'webhook' });
      assert.equal(response.status, 400, name);
      assert.equal((response.body as Problem).error, 'invalid_name');
      assert.equal((await harness.request('GET', `/api/connections/${name}`)).status, 400);
    }
  });

  test('names of up to 100 characters work through the API', async () => {
    const name = `n${'x'.repeat(99)}`;
    assert.equal((await put(name, { kind: 'webhook', signing_secret: secrets.signingSecret })).status, 201);
    assert.equal((await harness.request('GET', `/api/connections/${name}`)).status, 200);
    assert.equal((await harness.request('DELETE', `/api/connections/${name}`)).status, 204);
  });

  test('names of 101 to 128 characters (valid) work through the API', async () => {
    const name = `n${'x'.repeat(127)}`;
    assert.equal((await put(name, { kind: 'webhook', signing_secret: secrets.signingSecret })).status, 201);
  });

  test('DELETE removes (204), then 404; unknown names are 404', async () => {
    assert.equal((await put('temporary', { kind: 'webhook', signing_secret: secrets.signingSecret })).status, 201);
    const deleted = await harness.request('DELETE', '/api/connections/temporary');
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    assert.equal((await harness.request('GET', '/api/connections/temporary')).status, 404);
    assert.equal((await harness.request('DELETE', '/api/connections/temporary')).status, 404);
    assert.equal((await harness.request('GET', '/api/connections/never-was')).status, 404);
  });

  test('every route needs the admin scope: 401 without a valid key, 403 with read or events:write', async () => {
    const routes: Array<[string, string, unknown]> = [
      ['GET', '/api/connections', undefined],
      ['GET', '/api/connections/signed-hook', undefined],
      ['PUT', '/api/connections/signed-hook', { kind: 'webhook' }],
      ['DELETE', '/api/connections/signed-hook', undefined],
    ];
    for (const [method, path, body] of routes) {
      const withBody = body === undefined ? {} : { body: body as object };
      assert.equal((await harness.request(method, path, { ...withBody, key: null })).status, 401, `${method} ${path}`);
      assert.equal((await harness.request(method, path, { ...withBody, key: 'vk_not_a_key' })).status, 401, `${method} ${path}`);
      for (const key of [harness.readKey, harness.writeKey]) {
        const response = await harness.request(method, path, { ...withBody, key });
        assert.equal(response.status, 403, `${method} ${path}`);
        assert.match((response.body as Problem).message, /lacks the "admin" scope/);
      }
    }
    assert.equal((await harness.connections.resolve('signed-hook', 'webhook')).signing_secret, secrets.signingSecret, 'nothing changed');
  });

  test('an action using a connection: echoed credentials are scrubbed from the run record and the API', async () => {
    const fire = async (path: string) => {
      const id = randomUUID();
      const context = firingContext({ automation: 'connections-test' });
      await harness.database.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO action_outbox (id, firing_id, automation_name, phase, action_index, action, context) VALUES ($1, $2, $3, 'triggered', 0, $4, $5)`,
          [id, context.firing.id, context.automation.name, JSON.stringify({ kind: 'call-webhook', url: `${receiverUrl}${path}`, connection: 'signed-hook', retry: { attempts: 1 } }), JSON.stringify(context)],
        );
        await tx.query(`SELECT pg_notify($1, '')`, [notifyChannels.actionOutbox]);
      });
      return id;
    };
    const runOf = async (id: string) => (await harness.request('GET', `/api/action-runs/${id}`)).body as ActionRun | undefined;

    const ok = await fire('/echo');
    const succeeded = await waitFor('the run to succeed', async () => {
      const run = await runOf(ok);
      return run?.status === 'succeeded' ? run : undefined;
    });
    assert.match(succeeded.response_body ?? '', /"authorization":"\[redacted\]"/, 'the echoed header is scrubbed');
    assert.match(succeeded.response_body ?? '', /"idempotency-key":"/, 'the rest of the body is kept');

    const failing = await fire('/echo-fail');
    const failed = await waitFor('the run to fail', async () => {
      const run = await runOf(failing);
      return run?.status === 'failed' ? run : undefined;
    });
    assert.match(failed.error ?? '', /HTTP 400/);
    assert.match(failed.error ?? '', /\[redacted\]/);
    assert.match(failed.response_body ?? '', /\[redacted\]/);
    const cut = await fire('/echo-cut');
    const cutRun = await waitFor('the run to fail', async () => {
      const run = await runOf(cut);
      return run?.status === 'failed' ? run : undefined;
    });
    assert.match(cutRun.error ?? '', /HTTP 400: x{180}\[redacted\]…$/, 'a secret cut off in the error excerpt is redacted too');
    assert.equal(cutRun.response_body, `${'x'.repeat(180)}[redacted]`);
    assert.ok(!(cutRun.error ?? '').includes(secrets.authorization.slice(0, 16)));

    const failedEvent = harness.emitted.find((event) => event.event === 'vigil.action.failed' && JSON.stringify(event.payload).includes(failing));
    assert.ok(failedEvent, 'the failed lifecycle event was emitted');
    assertNoSecrets([JSON.stringify(harness.emitted)], 'lifecycle events');
    const stored = await harness.database.db.query<{ row: string }>('SELECT row_to_json(r)::text AS row FROM action_runs r');
    assertNoSecrets(stored.map((entry) => entry.row), 'action_runs rows');
  });

  test('no response body and no log line ever contained a secret', () => {
    assert.ok(harness.responses.length > 40);
    assertNoSecrets(harness.responses, 'response bodies');
    assert.ok(harness.logLines.some((line) => line.includes('failed for good (dead-lettered)')), 'the worker logs were captured');
    assertNoSecrets(harness.logLines, 'log lines');
  });
});

describe('connections routes without VIGIL_SECRET_KEY', () => {
  let harness: ActionsApiHarness;
  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, queue: false });
  });
  after(async () => {
    await harness.close();
  });

  test('PUT is a 409 secret_key_missing that says to set VIGIL_SECRET_KEY; reads and deletes work', async () => {
    const response = await harness.request('PUT', '/api/connections/oncall', { body: { kind: 'slack', bot_token: secrets.botToken } });
    assert.equal(response.status, 409, response.text);
    const problem = response.body as Problem;
    assert.equal(problem.error, 'secret_key_missing');
    assert.match(problem.message, /set VIGIL_SECRET_KEY/);
    assert.equal((await harness.request('PUT', '/api/connections/oncall', { body: { kind: 'slack' } })).status, 422, 'an invalid body is still a 422');

    const list = await harness.request('GET', '/api/connections');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { connections: [] });
    assert.equal((await harness.request('GET', '/api/connections/oncall')).status, 404);
    assert.equal((await harness.request('DELETE', '/api/connections/oncall')).status, 404);
    assertNoSecrets(harness.responses, 'response bodies');
    assertNoSecrets(harness.logLines.length > 0 ? harness.logLines : [''], 'log lines');
  });

  test('without an action queue the action runs routes are not mounted', async () => {
    const response = await harness.request('GET', '/api/action-runs');
    assert.equal(response.status, 404);
    assert.equal((response.body as Problem).error, 'not_found');
  });
});
