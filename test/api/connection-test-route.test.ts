import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createConnectionsRepository } from '../../actions/connections.ts';
import type { ConnectionTestResult } from '../../schemas/api-resources.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { secretKey } from '../actions/harness.ts';
import { unreachableUrl } from '../cli/run-cli.ts';
import { startAirflowStandIn, type AirflowStandIn } from '../stand-ins/airflow.ts';
import { header, startHttpStandIn, type HttpStandIn } from '../stand-ins/http-stand-in.ts';
import { startPrefectStandIn, type PrefectStandIn } from '../stand-ins/prefect.ts';
import { startSlackStandIn, type SlackStandIn } from '../stand-ins/slack.ts';

/*
 * POST /api/connections/{name}/test over the real HTTP app and PostgreSQL, against local
 * stand-ins that check what the real services check (credentials per route, paths, methods):
 * one harmless call per service, the outcome with the reason, through the egress guard
 * (only 127.0.0.1 allowed here), and never a secret in a response or log line.
 */

interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

const secrets = {
  prefectKey: `pnu_${randomBytes(12).toString('hex')}`,
  airflowPassword: `pw-${randomBytes(12).toString('hex')}`,
  botToken: `xoxb-${randomBytes(12).toString('hex')}`,
};

describe('POST /api/connections/{name}/test', () => {
  let harness: ActionsApiHarness;
  let prefect: PrefectStandIn;
  let airflow3: AirflowStandIn;
  let airflow2: AirflowStandIn;
  let slack: SlackStandIn;
  let notPrefect: HttpStandIn;

  before(async () => {
    harness = await startActionsApiHarness({ secretKey, queue: false });
    prefect = await startPrefectStandIn({ apiKey: secrets.prefectKey });
    airflow3 = await startAirflowStandIn(2, { password: secrets.airflowPassword });
    airflow2 = await startAirflowStandIn(1, { password: secrets.airflowPassword });
    slack = await startSlackStandIn({ botToken: secrets.botToken });
    // A web server that answers everything with a 200 page: not an orchestrator.
    notPrefect = await startHttpStandIn(() => ({ status: 200, body: '<html>welcome</html>', headers: { 'content-type': 'text/html' } }));
  });
  after(async () => {
    await harness?.close();
    await Promise.all([prefect, airflow3, airflow2, slack, notPrefect].map((standIn) => standIn?.close()));
  });

  const put = async (name: string, connection: Record<string, unknown>) => {
    const response = await harness.request('PUT', `/api/connections/${name}`, { body: connection });
    assert.ok(response.status === 200 || response.status === 201, response.text);
  };
  const testConnection = async (name: string): Promise<ConnectionTestResult> => {
    const response = await harness.request('POST', `/api/connections/${name}/test`);
    assert.equal(response.status, 200, response.text);
    return response.body as ConnectionTestResult;
  };

  test('Prefect: the health endpoint, then an authenticated read with the API key', async () => {
    await put('prefect-ok', { kind: 'prefect', api_url: prefect.apiUrl, api_key: secrets.prefectKey });
    const before = prefect.requests.length;
    const result = await testConnection('prefect-ok');
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.equal(result.kind, 'prefect');
    assert.deepEqual(result.checks.map((check) => [check.check, check.ok, check.http_status]), [['GET /health', true, 200], ['POST /deployments/count', true, 200]]);
    assert.equal(result.message, 'the Prefect API answers; 1 deployment visible with the API key');
    const calls = prefect.requests.slice(before);
    assert.deepEqual(calls.map((call) => `${call.method} ${call.path}`), ['GET /api/health', 'POST /api/deployments/count']);
    assert.equal(header(calls[1]!, 'authorization'), `Bearer ${secrets.prefectKey}`);
    assert.deepEqual(JSON.parse(calls[1]!.body), {});
  });

  test('Prefect: a wrong key fails at the authenticated read, with Prefect\'s answer', async () => {
    await put('prefect-bad-key', { kind: 'prefect', api_url: prefect.apiUrl, api_key: 'pnu_wrong' });
    const result = await testConnection('prefect-bad-key');
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.checks.map((check) => [check.check, check.ok]), [['GET /health', true], ['POST /deployments/count', false]]);
    assert.equal(result.checks[1]!.http_status, 401);
    assert.match(result.message, /^POST \/deployments\/count: Prefect POST \/deployments\/count answered HTTP 401/);
  });

  test('Prefect: an api_url that is not the Prefect API fails at the health check and says why', async () => {
    await put('prefect-wrong-url', { kind: 'prefect', api_url: notPrefect.url, api_key: secrets.prefectKey });
    const result = await testConnection('prefect-wrong-url');
    assert.equal(result.status, 'failed');
    assert.equal(result.checks.length, 1, 'stops at the first failure');
    assert.match(result.message, /GET \/health: answered 200 but not as Prefect's health endpoint does \(true\): <html>welcome<\/html>; is api_url the Prefect API/);
  });

  test('Airflow 3: the version, a fresh token from /auth/token on every test, then an authenticated read', async () => {
    await put('airflow3', { kind: 'airflow', base_url: airflow3.baseUrl, api_version: 2, username: airflow3.username, password: secrets.airflowPassword });
    const before = airflow3.requests.length;
    const result = await testConnection('airflow3');
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.deepEqual(result.checks.map((check) => [check.check, check.ok]), [['POST /auth/token, GET /api/v2/version', true], ['GET /api/v2/dags?limit=1', true]]);
    assert.equal(result.message, `Airflow 3.0.2; ${airflow3.username} got a token from /auth/token; 1 DAG visible to ${airflow3.username}`);
    const calls = airflow3.requests.slice(before);
    assert.deepEqual(calls.map((call) => `${call.method} ${call.path}`), ['POST /auth/token', 'GET /api/v2/version', 'GET /api/v2/dags']);
    assert.deepEqual(JSON.parse(calls[0]!.body), { username: airflow3.username, password: secrets.airflowPassword });
    assert.equal(calls[2]!.query.get('limit'), '1');
    assert.match(header(calls[2]!, 'authorization') ?? '', /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const issued = airflow3.tokensIssued();
    await testConnection('airflow3');
    assert.equal(airflow3.tokensIssued(), issued + 1, 'each test logs in again, so that it checks the credentials');
  });

  test('Airflow 3: a wrong password fails at /auth/token; api_version 1 against Airflow 3 names the likely cause', async () => {
    await put('airflow3-bad', { kind: 'airflow', base_url: airflow3.baseUrl, api_version: 2, username: airflow3.username, password: 'wrong' });
    const bad = await testConnection('airflow3-bad');
    assert.equal(bad.status, 'failed');
    assert.equal(bad.checks.length, 1);
    assert.match(bad.message, /^POST \/auth\/token, GET \/api\/v2\/version: Airflow \/auth\/token answered HTTP 401/);

    await put('airflow3-as-v1', { kind: 'airflow', base_url: airflow3.baseUrl, api_version: 1, username: airflow3.username, password: secrets.airflowPassword });
    const wrongVersion = await testConnection('airflow3-as-v1');
    assert.equal(wrongVersion.status, 'failed');
    assert.equal(wrongVersion.checks[0]!.http_status, 404);
    assert.match(wrongVersion.message, /^GET \/api\/v1\/version: .*\/api\/v1 has been removed in Airflow 3.*is api_version 1 right/);
  });

  test('Airflow 2: the version, then a read with basic auth', async () => {
    await put('airflow2', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 1, username: airflow2.username, password: secrets.airflowPassword });
    const before = airflow2.requests.length;
    const result = await testConnection('airflow2');
    assert.equal(result.status, 'ok', JSON.stringify(result));
    assert.equal(result.message, `Airflow 2.10.5; 1 DAG visible to ${airflow2.username}`);
    const calls = airflow2.requests.slice(before);
    assert.deepEqual(calls.map((call) => `${call.method} ${call.path}`), ['GET /api/v1/version', 'GET /api/v1/dags']);
    assert.equal(header(calls[1]!, 'authorization'), `Basic ${Buffer.from(`${airflow2.username}:${secrets.airflowPassword}`).toString('base64')}`);

    await put('airflow2-bad', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 1, username: airflow2.username, password: 'wrong' });
    const bad = await testConnection('airflow2-bad');
    assert.equal(bad.status, 'failed');
    assert.equal(bad.checks[1]!.http_status, 401);
  });

  test('Slack: auth.test with the bot token; an incoming webhook and a webhook connection are not testable, and nothing is sent', async () => {
    await put('slack-bot', { kind: 'slack', bot_token: secrets.botToken, api_url: slack.apiUrl });
    const before = slack.requests.length;
    const ok = await testConnection('slack-bot');
    assert.equal(ok.status, 'ok', JSON.stringify(ok));
    assert.equal(ok.message, 'the bot token works: vigil-bot in Vigil Test');
    const call = slack.requests[before]!;
    assert.equal(`${call.method} ${call.path}`, 'POST /api/auth.test');
    assert.equal(header(call, 'authorization'), `Bearer ${secrets.botToken}`);

    await put('slack-bad', { kind: 'slack', bot_token: 'xoxb-revoked', api_url: slack.apiUrl });
    const bad = await testConnection('slack-bad');
    assert.equal(bad.status, 'failed');
    assert.match(bad.message, /Slack auth.test failed: invalid_auth/);

    const sentBefore = slack.requests.length;
    await put('slack-hook', { kind: 'slack', webhook_url: slack.webhookUrl });
    const hook = await testConnection('slack-hook');
    assert.equal(hook.status, 'not_testable');
    assert.match(hook.message, /cannot be tested without posting a message/);
    assert.deepEqual(hook.checks, []);
    await put('signed', { kind: 'webhook', signing_secret: 'whsec_x' });
    const webhook = await testConnection('signed');
    assert.equal(webhook.status, 'not_testable');
    assert.match(webhook.message, /each call-webhook action names its own URL/);
    assert.equal(slack.requests.length, sentBefore, 'nothing was posted');
    assert.equal(slack.messages.length, 0);
  });

  test('the egress guard applies: a private address outside the allowlist is refused with what to do; a closed port is reported', async () => {
    await put('prefect-private', { kind: 'prefect', api_url: 'http://10.255.255.1:4200/api' });
    const refused = await testConnection('prefect-private');
    assert.equal(refused.status, 'failed');
    assert.equal(refused.checks[0]!.http_status, undefined);
    assert.match(refused.message, /refused to connect to 10\.255\.255\.1: .*private.*VIGIL_EGRESS_ALLOWLIST/);

    await put('prefect-down', { kind: 'prefect', api_url: `${await unreachableUrl()}/api` });
    const down = await testConnection('prefect-down');
    assert.equal(down.status, 'failed');
    assert.match(down.message, /ECONNREFUSED/);
  });

  test('bad requests: 404 unknown, 400 bad name, 422 with options in the body, 401/403 without an admin key; 409 when the secrets cannot be decrypted', async () => {
    const unknown = await harness.request('POST', '/api/connections/nobody/test');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as Problem).error, 'not_found');
    const badName = await harness.request('POST', '/api/connections/-bad/test');
    assert.equal(badName.status, 400);
    assert.deepEqual((badName.body as Problem).errors?.map((error) => error.path), ['name']);
    const options = await harness.request('POST', '/api/connections/slack-bot/test', { body: { channel: '#x' } });
    assert.equal(options.status, 422);
    assert.deepEqual((options.body as Problem).errors?.map((error) => error.path), ['channel']);
    const notObject = await harness.request('POST', '/api/connections/slack-bot/test', { body: '[1]' });
    assert.equal(notObject.status, 422);
    assert.equal((await harness.request('POST', '/api/connections/slack-bot/test', { body: '{}' })).status, 200);
    assert.equal((await harness.request('POST', '/api/connections/slack-bot/test', { body: 'x', contentType: 'text/plain' })).status, 415);
    assert.equal((await harness.request('POST', '/api/connections/slack-bot/test', { key: null })).status, 401);
    assert.equal((await harness.request('POST', '/api/connections/slack-bot/test', { key: harness.readKey })).status, 403);

    await createConnectionsRepository(harness.database.db, randomBytes(32)).upsert('other-key', { kind: 'slack', bot_token: secrets.botToken, api_url: slack.apiUrl });
    const unreadable = await harness.request('POST', '/api/connections/other-key/test');
    assert.equal(unreadable.status, 409);
    assert.equal((unreadable.body as Problem).error, 'secret_unreadable');
    assert.match((unreadable.body as Problem).message, /another secret key/);
  });

  test('no response body and no log line ever contained a secret', () => {
    for (const [name, value] of Object.entries(secrets)) {
      for (const text of [...harness.responses, ...harness.logLines]) assert.ok(!text.includes(value), `the ${name} secret leaked: ${text.slice(0, 300)}`);
    }
  });
});
