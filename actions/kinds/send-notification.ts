import type { ActionOf } from '../../schemas/action.ts';
import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ExecutionContext, Executor } from '../executor.ts';
import { jsonOf } from '../http.ts';
import { PermanentHttpError, RetryableHttpError, classifyTransportError, parseRetryAfter, throwUnlessSuccess } from '../retry-policy.ts';
import { render, renderJson } from '../templates.ts';

/*
 * send-notification: Slack, through an incoming webhook or chat.postMessage with a bot token.
 *
 * - The message is `text` (plain-text fallback, shown in notifications) plus optional Block Kit `blocks`.
 * - Sends are paced per channel (connection `pacing_ms`, default one per second); a 429 blocks
 *   the channel for its Retry-After and retries the action after it.
 * - chat.postMessage reports most errors as HTTP 200 with `{"ok": false, "error": "…"}`:
 *   `ratelimited` and Slack-side errors retry, the rest (channel_not_found, invalid_auth, …) fail.
 * - In `actions_on_resolve` with `thread: true` (the default) and a bot token, the message is a
 *   reply in the thread of the message this automation posted for the same firing to the same
 *   channel ("recovered"); an incoming webhook cannot thread, so it posts a follow-up message.
 */

/** chat.postMessage errors worth retrying; everything else is a problem with the request or the workspace. */
const retryableSlackErrors = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

interface SlackResponse {
  ok?: boolean;
  error?: string;
  channel?: string;
  ts?: string;
}

interface PostedMessage {
  channel: string;
  channel_id: string;
  ts: string;
}

/** The message this automation's triggered-phase notification posted for the same firing and channel. */
async function threadParent(context: ExecutionContext<ActionOf<'send-notification'>>, channel: string): Promise<PostedMessage | undefined> {
  const rows = await context.db.query<{ result: PostedMessage }>(
    `SELECT result FROM action_runs
      WHERE firing_id = $1 AND phase = 'triggered' AND kind = 'send-notification' AND status = 'succeeded'
        AND result->>'connection' = $2 AND (result->>'channel' = $3 OR result->>'channel_id' = $3) AND result ? 'ts'
      ORDER BY finished_at DESC LIMIT 1`,
    [context.job.firing_id, context.action.connection, channel],
  );
  return rows[0]?.result;
}

async function postWithWebhook(context: ExecutionContext<ActionOf<'send-notification'>>, webhookUrl: string, pacingMs: number, message: Record<string, unknown>) {
  const key = `${context.action.connection}:webhook`;
  await context.pacer.wait(key, pacingMs, context.signal);
  let response;
  try {
    response = await context.http({
      url: webhookUrl,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      timeoutMs: context.timeoutMs,
      signal: context.signal,
    });
  } catch (error) {
    // Never the URL in messages: it is the credential.
    throw classifyTransportError('Slack incoming webhook', error);
  }
  if (response.status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']) ?? 1_000;
    context.pacer.block(key, retryAfterMs);
    throw new RetryableHttpError('Slack incoming webhook is rate limited (429)', { retryAfterMs, response: { status: 429, body: response.body } });
  }
  if (response.status >= 500) {
    throw new RetryableHttpError(`Slack incoming webhook answered HTTP ${response.status}`, { response: { status: response.status, body: response.body } });
  }
  if (response.status !== 200) {
    // 400 invalid_payload, 403 action_prohibited, 404 no_service, 410 channel_is_archived, …
    throw new PermanentHttpError(`Slack incoming webhook answered HTTP ${response.status}: ${response.body.slice(0, 200)}`, {
      status: response.status,
      body: response.body,
    });
  }
  return { responseStatus: response.status, responseBody: response.body, result: { connection: context.action.connection, via: 'webhook' } };
}

async function postWithBotToken(
  context: ExecutionContext<ActionOf<'send-notification'>>,
  apiUrl: string,
  token: string,
  pacingMs: number,
  message: Record<string, unknown>,
) {
  const { action } = context;
  if (!action.channel) throw new PermanentActionError('send-notification with a bot token needs a `channel`');
  const channel = (await render(action.channel, context.scope)).trim();
  if (!channel) throw new PermanentActionError('the `channel` template rendered to an empty string');

  const body: Record<string, unknown> = { channel, ...message };
  if (context.job.phase === 'resolved' && action.thread) {
    const parent = await threadParent(context, channel);
    if (parent) {
      body.channel = parent.channel_id;
      body.thread_ts = parent.ts;
      if (action.reply_broadcast) body.reply_broadcast = true;
    }
  }

  const key = `${action.connection}:${String(body.channel)}`;
  await context.pacer.wait(key, pacingMs, context.signal);
  let response;
  try {
    response = await context.http({
      url: `${apiUrl.replace(/\/+$/, '')}/chat.postMessage`,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      timeoutMs: context.timeoutMs,
      signal: context.signal,
    });
  } catch (error) {
    throw classifyTransportError('Slack chat.postMessage', error);
  }
  const info = { status: response.status, body: response.body };
  if (response.status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers['retry-after']) ?? 1_000;
    context.pacer.block(key, retryAfterMs);
    throw new RetryableHttpError('Slack chat.postMessage is rate limited (429)', { retryAfterMs, response: info });
  }
  // Anything but 2xx: the generic mapping (5xx retry, 4xx permanent).
  throwUnlessSuccess('Slack chat.postMessage', response.status, response.body, response.headers['retry-after']);
  const parsed = jsonOf(response.body) as SlackResponse | undefined;
  if (!parsed || typeof parsed.ok !== 'boolean') throw new RetryableHttpError('Slack chat.postMessage answered with a body that is not Slack JSON', { response: info });
  if (!parsed.ok) {
    const error = parsed.error ?? 'unknown_error';
    if (retryableSlackErrors.has(error)) throw new RetryableHttpError(`Slack chat.postMessage failed: ${error}`, { response: info });
    throw new PermanentHttpError(`Slack chat.postMessage failed: ${error}`, info);
  }
  const result: Record<string, unknown> = { connection: action.connection, via: 'chat.postMessage', channel, channel_id: parsed.channel ?? channel, ts: parsed.ts };
  if (body.thread_ts) result.thread_ts = body.thread_ts;
  return { responseStatus: response.status, responseBody: response.body, result };
}

export const execute: Executor<'send-notification'> = async (context) => {
  const { action, scope } = context;
  const connection = await context.connections.resolve(action.connection, 'slack');
  const text = await render(action.text, scope);
  const message: Record<string, unknown> = { text };
  if (action.blocks) message.blocks = await renderJson(action.blocks, scope);
  if (connection.webhook_url) return postWithWebhook(context, connection.webhook_url, connection.pacing_ms, message);
  return postWithBotToken(context, connection.api_url, connection.bot_token!, connection.pacing_ms, message);
};
