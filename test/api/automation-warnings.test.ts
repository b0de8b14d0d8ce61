import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiWarning } from '../../schemas/api-resources.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { secretKey } from '../actions/harness.ts';
import { runCli, tempFiles } from '../cli/run-cli.ts';

/*
 * An automation whose actions name a connection that does not exist (or one of a kind the
 * action cannot use) is saved, with a warning at the action's path: in the answer of
 * PUT /api/automations/{name}, and printed by `vigil apply`. Real HTTP app and PostgreSQL.
 */

interface PutAnswer {
  created: boolean;
  changed: boolean;
  warnings: ApiWarning[];
}

const automation = (name: string, actions: unknown[], onResolve: unknown[] = []) => ({
  name,
  trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], by: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
  actions,
  actions_on_resolve: onResolve,
});

describe('warnings for connections an automation names', () => {
  let harness: ActionsApiHarness;

  before(async () => {
    harness = await startActionsApiHarness({ secretKey, queue: false });
    for (const [name, connection] of [
      ['slack-oncall', { kind: 'slack', bot_token: 'xoxb-1' }],
      ['prefect-prod', { kind: 'prefect', api_url: 'http://prefect:4200/api' }],
    ] as const) {
      assert.equal((await harness.request('PUT', `/api/connections/${name}`, { body: connection })).status, 201);
    }
  });
  after(async () => {
    await harness?.close();
  });

  test('PUT saves the automation and warns, by path, about missing connections and wrong kinds; none when all exist', async () => {
    const document = automation(
      'sales-sla',
      [
        { kind: 'send-notification', connection: 'slack-oncall', channel: '#data', text: 'late' },
        { kind: 'send-notification', connection: 'slack-typo', channel: '#data', text: 'late' },
        { kind: 'run-deployment', connection: 'slack-oncall', deployment: 'sales/refresh' },
        { kind: 'emit-event', event: 'sla.missed', resource: { id: 'sla.sales' } },
      ],
      [{ kind: 'call-webhook', url: 'https://hooks.example.com/x', connection: 'signer' }],
    );
    const response = await harness.request('PUT', '/api/automations/sales-sla', { body: document });
    assert.equal(response.status, 201, response.text);
    const answer = response.body as PutAnswer;
    assert.equal(answer.created, true);
    assert.deepEqual(answer.warnings.map((warning) => warning.path), ['actions[1].connection', 'actions[2].connection', 'actions_on_resolve[0].connection']);
    assert.match(answer.warnings[0]!.message, /^no connection "slack-typo" exists: this send-notification action fails until one is created/);
    assert.equal(answer.warnings[1]!.message, 'connection "slack-oncall" is a slack connection; a run-deployment action needs a prefect or airflow connection');
    assert.match(answer.warnings[2]!.message, /^no connection "signer" exists: this call-webhook action/);
    assert.equal((await harness.request('GET', '/api/automations/sales-sla')).status, 200, 'saved all the same');

    // Unchanged, it still warns; once the connections exist, it does not.
    const again = (await harness.request('PUT', '/api/automations/sales-sla', { body: document })).body as PutAnswer;
    assert.equal(again.changed, false);
    assert.equal(again.warnings.length, 3);
    const fixed = automation('sales-sla', [{ kind: 'run-deployment', connection: 'prefect-prod', deployment: 'sales/refresh' }]);
    const clean = (await harness.request('PUT', '/api/automations/sales-sla', { body: fixed })).body as PutAnswer;
    assert.deepEqual(clean.warnings, []);
  });

  test('vigil apply prints each warning with the file and path, and still applies (exit 0); --json carries them', async () => {
    const files = await tempFiles({
      'automations/etl.json': JSON.stringify([automation('etl-sla', [{ kind: 'send-notification', connection: 'slack-missing', channel: '#data', text: 'late' }]), automation('ok-sla', [{ kind: 'send-notification', connection: 'slack-oncall', channel: '#data', text: 'late' }])]),
    });
    try {
      const env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.adminKey };
      const applied = await runCli(['apply', '-f', files.path('automations')], { env });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /applied: 2 created, 0 changed, 0 unchanged/);
      assert.equal(applied.stderr, `vigil: warning: ${files.path('automations/etl.json')}[0] (etl-sla): actions[0].connection: no connection "slack-missing" exists: this send-notification action fails until one is created (PUT /api/connections/slack-missing)\n`);

      const changedFiles = await tempFiles({ 'etl.json': JSON.stringify(automation('etl-sla', [{ kind: 'send-notification', connection: 'slack-missing', channel: '#ops', text: 'late' }])) });
      try {
        const json = await runCli(['apply', '-f', changedFiles.path('etl.json'), '--json'], { env });
        assert.equal(json.code, 0, json.stderr);
        const results = (JSON.parse(json.stdout) as { results: Array<{ name: string; action: string; warnings?: ApiWarning[] }> }).results;
        assert.deepEqual(results.map((result) => [result.name, result.action, result.warnings?.map((warning) => warning.path)]), [['etl-sla', 'changed', ['actions[0].connection']]]);
        assert.equal(json.stderr, '');
      } finally {
        await changedFiles.remove();
      }
    } finally {
      await files.remove();
    }
  });
});
