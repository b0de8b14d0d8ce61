import { header, isObject, jsonBody, startHttpStandIn, type HttpStandIn, type RecordedRequest, type Reply } from './http-stand-in.ts';

/*
 * Slack, as far as Vigil talks to it (https://api.slack.com/methods/chat.postMessage,
 * https://api.slack.com/messaging/webhooks):
 *
 * - POST /api/chat.postMessage with `Authorization: Bearer <bot token>` and a JSON body
 *   (`application/json; charset=utf-8`). Errors are HTTP 200 with `{"ok": false, "error": "…"}`:
 *   not_authed, invalid_auth, channel_not_found, no_text, invalid_blocks, thread_not_found.
 *   Success: `{"ok": true, "channel": "C…", "ts": "…", "message": {…}}`.
 * - POST /services/T…/B…/… (incoming webhook): JSON with `text` or `blocks`; answers a plain
 *   `ok`, or 400 invalid_payload / no_text, 404 no_service.
 * - POST /api/auth.test with the bearer token: `{"ok": true, "team", "user", …}`, or not_authed / invalid_auth.
 * - Rate limits: HTTP 429 with `Retry-After` (seconds), injected with `failNext`.
 */

export interface SlackMessage {
  readonly via: 'chat.postMessage' | 'webhook';
  readonly channel: string;
  readonly ts: string;
  readonly text: string | undefined;
  readonly blocks: unknown;
  readonly thread_ts: string | undefined;
  readonly request: RecordedRequest;
}

export interface SlackStandIn extends HttpStandIn {
  readonly apiUrl: string;
  readonly webhookUrl: string;
  readonly botToken: string;
  readonly messages: SlackMessage[];
}

const channels = new Map<string, string>([
  ['#data-oncall', 'C0DATAONCALL'],
  ['data-oncall', 'C0DATAONCALL'],
  ['C0DATAONCALL', 'C0DATAONCALL'],
  ['#alerts', 'C0ALERTS'],
  ['#data-platform', 'C0DATAPLATFORM'],
  ['C0ALERTS', 'C0ALERTS'],
]);

const webhookPath = '/services/T0VIGIL/B0VIGIL/s3cr3tWebhookPath';

function validBlocks(blocks: unknown): boolean {
  return Array.isArray(blocks) && blocks.length <= 50 && blocks.every((block) => isObject(block) && typeof block.type === 'string');
}

export async function startSlackStandIn(options: { botToken?: string } = {}): Promise<SlackStandIn> {
  const botToken = options.botToken ?? 'xoxb-test-0000-vigil';
  const messages: SlackMessage[] = [];
  let sequence = 0;
  const nextTs = () => `1700000000.${String(++sequence).padStart(6, '0')}`;

  function postMessage(request: RecordedRequest): Reply {
    const ok = (body: Record<string, unknown>): Reply => ({ status: 200, body: { ok: true, ...body } });
    const error = (code: string): Reply => ({ status: 200, body: { ok: false, error: code } });
    const authorization = header(request, 'authorization');
    if (!authorization) return error('not_authed');
    if (authorization !== `Bearer ${botToken}`) return error('invalid_auth');
    if (!(header(request, 'content-type') ?? '').startsWith('application/json')) return error('invalid_arguments');
    const body = jsonBody(request);
    if (!isObject(body)) return error('invalid_json');
    const channelId = typeof body.channel === 'string' ? channels.get(body.channel) : undefined;
    if (!channelId) return error('channel_not_found');
    const text = typeof body.text === 'string' ? body.text : undefined;
    if (body.blocks !== undefined && !validBlocks(body.blocks)) return error('invalid_blocks');
    if (!text && body.blocks === undefined) return error('no_text');
    const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : undefined;
    if (threadTs && !messages.some((message) => message.channel === channelId && message.ts === threadTs)) return error('thread_not_found');
    const ts = nextTs();
    messages.push({ via: 'chat.postMessage', channel: channelId, ts, text, blocks: body.blocks, thread_ts: threadTs, request });
    return ok({ channel: channelId, ts, message: { type: 'message', text, ts, ...(threadTs ? { thread_ts: threadTs } : {}) } });
  }

  /** auth.test: who the token is; the same errors as every Web API method for a missing or wrong token. */
  function authTest(request: RecordedRequest): Reply {
    const authorization = header(request, 'authorization');
    if (!authorization) return { status: 200, body: { ok: false, error: 'not_authed' } };
    if (authorization !== `Bearer ${botToken}`) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    return { status: 200, body: { ok: true, url: 'https://vigil-test.slack.com/', team: 'Vigil Test', user: 'vigil-bot', team_id: 'T0VIGIL', user_id: 'U0VIGIL', bot_id: 'B0VIGIL' } };
  }

  function webhook(request: RecordedRequest): Reply {
    if (request.path !== webhookPath) return { status: 404, body: 'no_service' };
    const body = jsonBody(request);
    if (!isObject(body)) return { status: 400, body: 'invalid_payload' };
    if (body.blocks !== undefined && !validBlocks(body.blocks)) return { status: 400, body: 'invalid_blocks' };
    if (typeof body.text !== 'string' && body.blocks === undefined) return { status: 400, body: 'no_text' };
    messages.push({
      via: 'webhook',
      channel: 'C0WEBHOOK',
      ts: nextTs(),
      text: typeof body.text === 'string' ? body.text : undefined,
      blocks: body.blocks,
      thread_ts: undefined,
      request,
    });
    return { status: 200, body: 'ok' };
  }

  const standIn = await startHttpStandIn((request) => {
    if (request.method !== 'POST') return { status: 405, body: 'method_not_allowed' };
    if (request.path === '/api/chat.postMessage') return postMessage(request);
    if (request.path === '/api/auth.test') return authTest(request);
    if (request.path.startsWith('/services/')) return webhook(request);
    return { status: 404, body: { ok: false, error: 'unknown_method' } };
  });
  return { ...standIn, apiUrl: `${standIn.url}/api`, webhookUrl: `${standIn.url}${webhookPath}`, botToken, messages };
}
