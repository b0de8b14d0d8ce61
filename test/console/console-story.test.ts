/**
 * The console's headline story, clicked through in a real Chromium against Vigil as its own
 * process over real Kafka, PostgreSQL and Redis: save and test a Slack connection, make a
 * read-only API key, write a deadline
 * automation in the editor (a validation error shown at its path, then fixed), backtest it,
 * create it, watch it fire on the Now page while the Slack stand-in receives the alert, retry a
 * dead-lettered webhook run, and find pausing refused to a read-only key (the UI disables the
 * button, the API answers 403). Screenshots of each page go to docs/console/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startHttpStandIn, type HttpStandIn } from '../stand-ins/http-stand-in.ts';
import { startSlackStandIn, type SlackStandIn } from '../stand-ins/slack.ts';
import { launchChromium } from '../support/browser.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startVigilProcess, type VigilProcess } from '../support/vigil-process.ts';
import { waitFor } from '../support/wait-for.ts';

const shots = new URL('../../docs/console/', import.meta.url).pathname;
const name = 'sales-refreshed-console';

describe('console: the headline story in a real browser', () => {
  let database: TestDatabase;
  let slack: SlackStandIn;
  let hook: HttpStandIn;
  let hookAccepts = false;
  let vigil: VigilProcess;
  let browser: Browser;
  let page: Page;
  let readKey = '';
  const adminKey = `console-admin-${randomBytes(16).toString('hex')}`;

  before(async () => {
    await mkdir(shots, { recursive: true });
    database = await createTestDatabase();
    slack = await startSlackStandIn();
    // A webhook endpoint that refuses (400: a permanent failure, dead-lettered at once) until told to accept.
    hook = await startHttpStandIn(() => (hookAccepts ? { status: 200, body: { ok: true } } : { status: 400, body: { error: 'schema mismatch' } }));
    const tag = randomBytes(4).toString('hex');
    vigil = await startVigilProcess(
      {
        DATABASE_URL: database.url,
        KAFKA_BROKERS: kafkaBrokers.join(','),
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:63790',
        VIGIL_KAFKA_TOPIC: `vigil.test.console.${tag}`,
        VIGIL_REDIS_PREFIX: `vigil-console-${tag}`,
        VIGIL_ADMIN_KEY: adminKey,
        VIGIL_SECRET_KEY: randomBytes(32).toString('base64'),
        VIGIL_EGRESS_ALLOWLIST: '127.0.0.1',
      },
      7900 + Math.floor(Math.random() * 80),
    );
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await vigil?.stop();
    await slack?.close();
    await hook?.close();
    await database?.drop();
  });

  const api = async (path: string, key = adminKey) => {
    const response = await fetch(`${vigil.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return (await response.json()) as Record<string, unknown>;
  };

  const signIn = async (key: string) => {
    await page.goto(`${vigil.url}/`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Now' }).waitFor();
  };

  /** Replaces the editor's text as a paste would. */
  const replaceDefinition = async (text: string) => {
    await page.locator('.cm-content').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
  };

  const definition = (by: string) =>
    JSON.stringify(
      {
        name,
        description: 'sales must be refreshed in every 20-second window',
        tags: ['sales', 'console'],
        trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], match: { id: 'dbt.model.sales' }, by, timezone: 'Europe/Berlin', grace: '1s' },
        actions: [
          { kind: 'send-notification', connection: 'slack-data', channel: '#data-oncall', text: ':rotating_light: {{ automation.name }}: sales missed the {{ firing.deadline }} deadline' },
          { kind: 'call-webhook', url: `${hook.url}/incidents`, retry: { attempts: 1 } },
        ],
      },
      null,
      2,
    );

  test('connection → editor with a path-level error → backtest → fires on Now → Slack → retry a dead letter → read-only pause refused', async () => {
    await signIn(adminKey);

    // 1. A Slack connection, saved from the Connections page.
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.locator('#connection-name').fill('slack-data');
    await page.getByLabel(/^Connection \(JSON/).fill(JSON.stringify({ kind: 'slack', bot_token: slack.botToken, api_url: slack.apiUrl }, null, 2));
    await page.getByRole('button', { name: 'Save connection' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved connection slack-data' }).waitFor();
    await page.getByRole('cell', { name: 'slack-data', exact: true }).waitFor();
    assert.doesNotMatch(await page.getByLabel(/^Connection \(JSON/).inputValue(), new RegExp(slack.botToken), 'the form forgets the token once saved');
    assert.match(await page.getByLabel(/^Connection \(JSON/).inputValue(), /"bot_token": "set"/);
    assert.ok(!(await page.content()).includes(slack.botToken), 'the bot token is never shown');
    // "Test" makes Slack's harmless auth.test call with the stored token
    await page.getByRole('button', { name: 'test slack-data' }).click();
    await page.locator('.test-outcome.ok').waitFor();
    assert.ok(slack.requests.some((r) => r.path === '/api/auth.test'), 'the stand-in answered auth.test');
    await page.screenshot({ path: `${shots}connections.png` });

    // 1b. A read-only key for a dashboard, made on the API keys page (its secret shown once).
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByPlaceholder('airflow-prod').fill('dashboard viewer');
    await page.getByRole('button', { name: 'Create key' }).click();
    readKey = (await page.getByTestId('new-key-secret').textContent())?.trim() ?? '';
    assert.match(readKey, /^vk_/);
    await page.getByRole('cell', { name: 'dashboard viewer', exact: true }).waitFor();
    await page.screenshot({ path: `${shots}keys.png` });

    // 2. The automation in the editor: an invalid cron is reported at its path, then fixed.
    await page.goto(`${vigil.url}/#/automations/new`);
    await page.locator('.cm-content').waitFor();
    await replaceDefinition(definition('every twenty seconds'));
    const problem = page.locator('.problem-list li').filter({ hasText: 'trigger.by' });
    await problem.waitFor();
    await page.locator('.cm-lintRange-error').first().waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create' }).isDisabled(), true, 'an invalid definition cannot be saved');
    await page.screenshot({ path: `${shots}automation-editor-error.png` });
    await replaceDefinition(definition('*/20 * * * * *'));
    await page.getByText('✓ valid').waitFor();

    // 3. Backtest the unsaved definition over the last hour of (empty) history: every window missed.
    await page.getByLabel('Backtest range').selectOption({ label: 'last hour' });
    await page.getByRole('button', { name: 'Run backtest' }).click();
    const backtest = page.locator('.backtest-result');
    await backtest.waitFor();
    const fired = /would have fired (\d+) times?/.exec((await backtest.textContent()) ?? '');
    assert.ok(fired && Number(fired[1]) >= 150, `an hour of 20-second windows without a refresh: ${await backtest.textContent()}`);

    // Explain: the default sample event matches; one about another table fails at trigger.match.
    await page.getByRole('button', { name: 'Explain this event' }).click();
    await page.getByText('The event matches').waitFor();
    await page.getByLabel(/^An event/).fill(JSON.stringify({ event: 'dbt.model.refreshed', resource: { id: 'dbt.model.orders' } }));
    await page.getByRole('button', { name: 'Explain this event' }).click();
    await page.getByText('The event does not match.').waitFor();
    assert.match((await page.locator('.clauses li.fail').allTextContents()).join('\n'), /trigger\.match/);
    await page.setViewportSize({ width: 1360, height: 1250 });
    await page.screenshot({ path: `${shots}automation-backtest-explain.png` });
    await page.setViewportSize({ width: 1360, height: 860 });

    // 4. Create it.
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(new RegExp(`#/automations/${name}$`));
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await page.locator('.cm-content', { hasText: name }).waitFor();
    await page.screenshot({ path: `${shots}automation.png` });

    // 5. It fires on the Now page (live, no reload) and Slack receives the alert.
    await page.getByRole('link', { name: 'Now' }).click();
    const row = page.locator('.vrow', { hasText: name });
    await row.locator('.badge-firing').waitFor({ timeout: 60_000 });
    const alert = await waitFor('the alert in the Slack stand-in', () => slack.messages.find((m) => m.text?.includes(`${name}: sales missed the`)), 30_000, 100);
    assert.equal(alert.channel, 'C0DATAONCALL');
    // the webhook action answered 400: the firing row says so
    await row.getByText(/1 action failed/).waitFor();
    await page.screenshot({ path: `${shots}now.png` });

    // 6. The webhook run was dead-lettered (400); once the endpoint accepts, retry it from Action runs.
    await page.getByRole('link', { name: 'Action runs' }).click();
    const deadLetter = page.locator('tr[data-run]', { hasText: 'call-webhook' }).first();
    await deadLetter.waitFor();
    assert.match((await deadLetter.textContent()) ?? '', /400/);
    await page.screenshot({ path: `${shots}action-runs.png` });
    const runId = await deadLetter.getAttribute('data-run');
    assert.ok(runId);
    hookAccepts = true;
    await deadLetter.getByRole('checkbox').check();
    await page.getByRole('button', { name: /Retry selected/ }).click();
    await page.getByRole('status').filter({ hasText: '1 of 1 queued for retry' }).waitFor();
    const retried = await waitFor('the retried run to succeed', async () => {
      const run = await api(`/api/action-runs/${runId}`);
      return run['status'] === 'succeeded' ? run : undefined;
    }, 30_000, 200);
    assert.equal(retried['attempts'], 2);

    // 7. The late refresh arrives: it is in the event history, and its page names the automation it matches.
    const sent = await fetch(`${vigil.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'dbt.model.refreshed', resource: { id: 'dbt.model.sales', env: 'prod' } }),
    });
    assert.equal(sent.status, 202);
    await page.getByRole('link', { name: 'Events' }).click();
    const refresh = page.locator('td a', { hasText: 'dbt.model.refreshed' });
    await waitFor('the refresh in the history', async () => {
      await page.getByRole('button', { name: 'Apply' }).click();
      return (await refresh.count()) > 0;
    }, 30_000, 500);
    await page.locator('td a', { hasText: 'vigil.automation.triggered' }).first().waitFor();
    await page.screenshot({ path: `${shots}events.png` });
    await refresh.first().click();
    await page.getByRole('heading', { name: 'Automations it matches' }).waitFor();
    await page.locator('section', { hasText: 'Automations it matches' }).getByRole('link', { name }).waitFor();
    await page.screenshot({ path: `${shots}event.png` });
    await page.getByRole('link', { name: 'Automations' }).click();
    await page.locator('.vrow', { hasText: name }).waitFor();
    await page.screenshot({ path: `${shots}automations.png` });

    // 8. A read-only key sees the automation, but cannot pause it: the button is disabled and the API refuses.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(readKey);
    await page.locator('.key-badge', { hasText: 'read-only' }).waitFor();
    await page.goto(`${vigil.url}/#/automations/${name}`);
    const pause = page.getByRole('button', { name: 'Pause' });
    await pause.waitFor();
    assert.equal(await pause.isDisabled(), true);
    const refused = await page.evaluate(async (automation) => {
      const key = sessionStorage.getItem('vigil.apiKey');
      const response = await fetch(`/api/automations/${automation}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled: false }),
      });
      return { status: response.status, body: (await response.json()) as { error: string } };
    }, name);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'forbidden');
    assert.equal((await api(`/api/automations/${name}`))['enabled'], true, 'still enabled');
    await page.screenshot({ path: `${shots}automation-read-only.png` });

    // 9. The Now page in the dark theme.
    await page.getByRole('link', { name: 'Now' }).click();
    await page.getByLabel('Theme').selectOption('dark');
    await page.locator('.vrow').first().waitFor();
    await page.screenshot({ path: `${shots}now-dark.png` });
  });
});
