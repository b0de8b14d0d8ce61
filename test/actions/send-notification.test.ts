import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { header, jsonBody } from '../stand-ins/http-stand-in.ts';
import { startSlackStandIn, type SlackStandIn } from '../stand-ins/slack.ts';
import { fastRetry, firingContext, startActionsHarness, type ActionsHarness } from './harness.ts';

describe('send-notification to Slack', () => {
  let harness: ActionsHarness;
  let slack: SlackStandIn;

  before(async () => {
    harness = await startActionsHarness();
    slack = await startSlackStandIn();
    await harness.connections.upsert('slack-bot', { kind: 'slack', bot_token: slack.botToken, api_url: slack.apiUrl, pacing_ms: 0 });
    await harness.connections.upsert('slack-hook', { kind: 'slack', webhook_url: slack.webhookUrl, pacing_ms: 0 });
    await harness.connections.upsert('slack-wrong-token', { kind: 'slack', bot_token: 'xoxb-wrong', api_url: slack.apiUrl, pacing_ms: 0 });
  });
  after(async () => {
    await harness.close();
    await slack.close();
  });

  const blocks = [
    { type: 'header', text: { type: 'plain_text', text: ':rotating_light: {{ automation.name }} missed' } },
    { type: 'section', text: { type: 'mrkdwn', text: '*{{ event.resource.name }}* did not land by {{ firing.deadline | date: "%H:%M" }}' } },
  ];

  test('chat.postMessage with a bot token: Block Kit plus plain-text fallback, then a threaded "recovered" reply on resolve', async () => {
    const firingId = randomUUID();
    const context = firingContext({ firingId });
    const triggered = await harness.fire(
      { kind: 'send-notification', connection: 'slack-bot', channel: '#data-oncall', text: '{{ automation.name }}: {{ event.resource.name }} is late', blocks, retry: fastRetry },
      { context, firingId },
    );
    const run = await harness.waitForRun(triggered, 'succeeded');
    const first = slack.messages.find((message) => message.text === 'sales-sla: sales_refresh is late');
    assert.ok(first, 'message posted');
    assert.equal(first.channel, 'C0DATAONCALL');
    assert.equal(header(first.request, 'authorization'), `Bearer ${slack.botToken}`);
    assert.match(header(first.request, 'content-type') ?? '', /^application\/json; charset=utf-8/);
    const sentBlocks = (jsonBody(first.request) as { blocks: Array<{ text: { text: string } }> }).blocks;
    assert.equal(sentBlocks[0]!.text.text, ':rotating_light: sales-sla missed');
    assert.match(sentBlocks[1]!.text.text, /^\*sales_refresh\* did not land by \d\d:\d\d$/);
    assert.deepEqual((run.result as { ts: string }).ts, first.ts);

    const resolved = await harness.fire(
      { kind: 'send-notification', connection: 'slack-bot', channel: '#data-oncall', text: ':white_check_mark: {{ event.resource.name }} recovered', retry: fastRetry },
      { context: firingContext({ firingId, state: 'resolved' }), firingId, phase: 'resolved' },
    );
    await harness.waitForRun(resolved, 'succeeded');
    const reply = slack.messages.find((message) => message.text === ':white_check_mark: sales_refresh recovered');
    assert.ok(reply, 'recovered reply posted');
    assert.equal(reply.thread_ts, first.ts, 'threaded under the original message');
    assert.equal(reply.channel, 'C0DATAONCALL');
  });

  test('Slack errors reported as HTTP 200 ok:false fail permanently (channel_not_found, invalid_auth)', async () => {
    const unknownChannel = await harness.fire({ kind: 'send-notification', connection: 'slack-bot', channel: '#nope', text: 'x', retry: fastRetry });
    const failed = await harness.waitForRun(unknownChannel, 'failed');
    assert.equal(failed.attempts, 1);
    assert.match(failed.error ?? '', /channel_not_found/);
    assert.equal(failed.response_status, 200);

    const wrongToken = await harness.fire({ kind: 'send-notification', connection: 'slack-wrong-token', channel: '#alerts', text: 'x', retry: fastRetry });
    assert.match((await harness.waitForRun(wrongToken, 'failed')).error ?? '', /invalid_auth/);
  });

  test('429 with Retry-After and 5xx are retried, then the message is posted once', async () => {
    slack.failNext(1, { status: 429, retryAfter: '1', path: /chat\.postMessage/ });
    slack.failNext(1, { status: 502, path: /chat\.postMessage/ });
    const before = slack.requests.length;
    const id = await harness.fire({ kind: 'send-notification', connection: 'slack-bot', channel: '#alerts', text: 'rate limited once', retry: fastRetry });
    const run = await harness.waitForRun(id, 'succeeded');
    assert.equal(run.attempts, 3);
    assert.equal(slack.requests.length - before, 3);
    assert.equal(slack.messages.filter((message) => message.text === 'rate limited once').length, 1);
  });

  test('incoming webhook: posts text and blocks, answers "ok"; on resolve a follow-up message', async () => {
    const firingId = randomUUID();
    const id = await harness.fire({ kind: 'send-notification', connection: 'slack-hook', text: '{{ event.resource.name }} late', blocks, retry: fastRetry }, { firingId, context: firingContext({ firingId }) });
    const run = await harness.waitForRun(id, 'succeeded');
    assert.equal(run.response_body, 'ok');
    const resolved = await harness.fire(
      { kind: 'send-notification', connection: 'slack-hook', text: '{{ event.resource.name }} recovered', retry: fastRetry },
      { firingId, phase: 'resolved', context: firingContext({ firingId, state: 'resolved' }) },
    );
    await harness.waitForRun(resolved, 'succeeded');
    const texts = slack.messages.filter((message) => message.via === 'webhook').map((message) => message.text);
    assert.deepEqual(texts.slice(-2), ['sales_refresh late', 'sales_refresh recovered']);
  });

  test('incoming webhook 429 is retried after Retry-After; 404 no_service fails', async () => {
    slack.failNext(1, { status: 429, retryAfter: '1', path: /^\/services\// });
    const id = await harness.fire({ kind: 'send-notification', connection: 'slack-hook', text: 'hook limited', retry: fastRetry });
    assert.equal((await harness.waitForRun(id, 'succeeded')).attempts, 2);

    await harness.connections.upsert('slack-dead-hook', { kind: 'slack', webhook_url: `${slack.url}/services/T0/B0/gone`, pacing_ms: 0 });
    const gone = await harness.fire({ kind: 'send-notification', connection: 'slack-dead-hook', text: 'x', retry: fastRetry });
    const failed = await harness.waitForRun(gone, 'failed');
    assert.match(failed.error ?? '', /HTTP 404: no_service/);
    assert.doesNotMatch(failed.error ?? '', /services/, 'the webhook URL (a credential) is not in the error');
  });

  test('messages to one channel are paced', async () => {
    await harness.connections.upsert('slack-paced', { kind: 'slack', bot_token: slack.botToken, api_url: slack.apiUrl, pacing_ms: 300 });
    const ids = await Promise.all([1, 2, 3].map((n) => harness.fire({ kind: 'send-notification', connection: 'slack-paced', channel: '#alerts', text: `paced ${n}`, retry: fastRetry })));
    for (const id of ids) await harness.waitForRun(id, 'succeeded');
    const times = slack.messages.filter((message) => message.text?.startsWith('paced ')).map((message) => message.request.at).sort((a, b) => a - b);
    assert.equal(times.length, 3);
    assert.ok(times[2]! - times[0]! >= 550, `three messages spread over ${times[2]! - times[0]!} ms`);
  });
});
