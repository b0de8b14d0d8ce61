/**
 * The headline story end to end, over real Kafka, PostgreSQL and Redis with Vigil as its own
 * process: a deadline SLA applied from a file with the CLI, events emitted by the SDK, the missed
 * deadline posting to a local Slack stand-in, the late event posting the recovery in the alert's
 * thread, and the firing and action runs visible through the API.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { VigilClient } from '../../sdk/index.ts';
import { startSlackStandIn, type SlackStandIn } from '../stand-ins/slack.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startVigilProcess, vigilApi, type VigilProcess } from '../support/vigil-process.ts';
import { waitFor } from '../support/wait-for.ts';

const run = promisify(execFile);
const cli = new URL('../../cli/main.ts', import.meta.url).pathname;

describe('headline story: a missed deadline alerts Slack, the late event posts the recovery', () => {
  let database: TestDatabase;
  let slack: SlackStandIn;
  let vigil: VigilProcess;
  const adminKey = `e2e-admin-${randomBytes(16).toString('hex')}`;
  const name = 'sales-refreshed-on-time';

  before(async () => {
    database = await createTestDatabase();
    slack = await startSlackStandIn();
    const tag = randomBytes(4).toString('hex');
    vigil = await startVigilProcess(
      {
        DATABASE_URL: database.url,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:63790',
        VIGIL_KAFKA_TOPIC: `vigil.test.e2e.${tag}`,
        VIGIL_REDIS_PREFIX: `vigil-e2e-${tag}`,
        VIGIL_ADMIN_KEY: adminKey,
        VIGIL_SECRET_KEY: randomBytes(32).toString('base64'),
        VIGIL_EGRESS_ALLOWLIST: '127.0.0.1',
      },
      7810 + Math.floor(Math.random() * 80),
    );
  });

  after(async () => {
    await vigil?.stop();
    await slack?.close();
    await database?.drop();
  });

  const api = (method: string, path: string, body?: unknown) => vigilApi(vigil.url, adminKey)(method, path, body);

  test('deadline miss → Slack alert; late event → threaded recovery; firings and runs in the API', async () => {
    const connection = await api('PUT', '/api/connections/slack-data', { kind: 'slack', bot_token: slack.botToken, api_url: slack.apiUrl });
    assert.ok(connection.status === 200 || connection.status === 201, JSON.stringify(connection.body));

    // The SLA: a refresh every 20 seconds (a 6-field cron with seconds), so the test sees a deadline pass.
    const dir = await mkdtemp(join(tmpdir(), 'vigil-e2e-'));
    const file = join(dir, 'sla.json');
    await writeFile(
      file,
      JSON.stringify({
        name,
        description: 'sales must be refreshed in every window',
        trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], match: { id: 'dbt.model.sales' }, by: '*/20 * * * * *', timezone: 'Europe/Berlin', grace: '1s' },
        actions: [{ kind: 'send-notification', connection: 'slack-data', channel: '#data-oncall', text: ':rotating_light: {{ automation.name }}: sales missed the {{ firing.deadline }} deadline' }],
        actions_on_resolve: [{ kind: 'send-notification', connection: 'slack-data', channel: '#data-oncall', text: ':white_check_mark: sales refreshed: recovered' }],
      }),
    );
    const applied = await run(process.execPath, ['--disable-warning=ExperimentalWarning', cli, 'apply', '-f', file], {
      env: { ...process.env, VIGIL_URL: vigil.url, VIGIL_API_KEY: adminKey },
    });
    assert.match(applied.stdout, new RegExp(name));

    // Emitted through the SDK: an unrelated refresh, which must not satisfy the SLA.
    const client = new VigilClient({ url: vigil.url, apiKey: adminKey, flushIntervalMs: 20 });
    client.emit({ event: 'dbt.model.refreshed', resource: { id: 'dbt.model.orders' } });
    await client.flush();

    const alert = await waitFor('the missed-deadline alert in Slack', () => slack.messages.find((message) => message.text?.includes('missed the')), 90_000, 100);
    assert.equal(alert.channel, 'C0DATAONCALL');
    assert.equal(alert.thread_ts, undefined);
    assert.match(alert.text!, new RegExp(`${name}: sales missed the \\d{4}-\\d{2}-\\d{2}T`));

    // The late refresh arrives: the firing resolves and the recovery is posted in the alert's thread.
    client.emit({ event: 'dbt.model.refreshed', resource: { id: 'dbt.model.sales' } });
    await client.close();
    const recovery = await waitFor('the recovery reply in the alert thread', () => slack.messages.find((message) => message.text?.includes('recovered')), 60_000, 100);
    assert.equal(recovery.thread_ts, alert.ts, 'the recovery is a reply in the alert thread');

    const firings = await waitFor('a resolved firing', async () => {
      const answer = await api('GET', `/api/automations/${name}/firings`);
      const list = answer.body.firings as Array<{ status: string }> | undefined;
      return list?.some((firing) => firing.status === 'resolved') ? list : undefined;
    });
    assert.ok(firings.length >= 1);

    const runs = await waitFor('two succeeded action runs', async () => {
      const answer = await api('GET', `/api/action-runs?automation=${name}&status=succeeded`);
      const list = answer.body.action_runs as unknown[] | undefined;
      return list && list.length >= 2 ? list : undefined;
    });
    assert.ok(runs.length >= 2);
  });
});
