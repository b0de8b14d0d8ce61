import { randomUUID } from 'node:crypto';
import type { ConnectionCheck, ConnectionTestResult } from '../schemas/api-resources.ts';
import type { ConnectionOf } from '../schemas/connection.ts';
import type { ConnectionsRepository } from './connections.ts';
import { callOrThrow, jsonOf, type HttpClient, type HttpResult } from './http.ts';
import type { Orchestrator } from './orchestrators/orchestrator.ts';
import { orchestratorOf } from './orchestrators/orchestrator-for.ts';
import { createTokenCache } from './orchestrators/token-cache.ts';

/*
 * Connection tests (POST /api/connections/{name}/test): harmless calls with a stored connection,
 * through the actions' own HTTP code (the egress guard, the orchestrators' auth and error
 * mapping), that say whether the actions using it would get through:
 *
 *   prefect   GET {api}/health (the server answers), POST {api}/deployments/count (the credentials read)
 *   airflow   GET /api/vN/version (the server and the api_version), GET /api/vN/dags?limit=1 (the
 *             credentials); Airflow 3 with a username logs in first (POST /auth/token, a fresh token)
 *   slack     bot token: POST {api_url}/auth.test. An incoming webhook has no call that does not post.
 *   webhook   nothing to call: the URL is on each call-webhook action, not on the connection.
 *
 * Checks run in order and stop at the first failure. Nothing is written anywhere.
 */

export interface ConnectionTesterOptions {
  readonly connections: ConnectionsRepository;
  /** The actions' HTTP client (through the egress guard). */
  readonly http: HttpClient;
  /** Timeout of each call. Default 10 s. */
  readonly timeoutMs?: number;
}

interface Check {
  readonly check: string;
  /** Makes the call and describes what the answer shows; throws when it shows a problem. */
  readonly run: () => Promise<{ detail: string; response?: HttpResult }>;
}

/** A check that failed for a reason found in an answer (not a transport or HTTP error). */
class UnexpectedAnswer extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

function excerpt(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/** The HTTP status an action error carries, when it came from an answer. */
function statusOf(error: unknown): number | undefined {
  if (error instanceof UnexpectedAnswer) return error.status;
  const response = (error as { response?: { status?: unknown } } | null)?.response;
  return typeof response?.status === 'number' ? response.status : undefined;
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /egress allowlist/.test(message) ? `${message}: add the address to VIGIL_EGRESS_ALLOWLIST` : message;
}

async function runChecks(checks: readonly Check[]): Promise<{ results: ConnectionCheck[]; failed?: ConnectionCheck }> {
  const results: ConnectionCheck[] = [];
  for (const { check, run } of checks) {
    const started = performance.now();
    const took = () => Math.round(performance.now() - started);
    try {
      const { detail, response } = await run();
      results.push({ check, ok: true, detail, ...(response ? { http_status: response.status } : {}), duration_ms: took() });
    } catch (error) {
      const status = statusOf(error);
      const failed: ConnectionCheck = { check, ok: false, detail: reasonOf(error), ...(status !== undefined ? { http_status: status } : {}), duration_ms: took() };
      results.push(failed);
      return { results, failed };
    }
  }
  return { results };
}

function prefectChecks(orchestrator: Orchestrator, connection: ConnectionOf<'prefect'>): Check[] {
  const credentials = connection.api_key ? 'the API key' : connection.auth_string ? 'the auth string' : 'no credentials (the server must allow that)';
  return [
    {
      check: 'GET /health',
      run: async () => {
        const response = await orchestrator.read({ method: 'GET', path: '/health' });
        if (jsonOf(response.body) !== true) throw new UnexpectedAnswer(`answered ${response.status} but not as Prefect's health endpoint does (true): ${excerpt(response.body)}; is api_url the Prefect API (ending in /api)?`, response.status);
        return { detail: 'the Prefect API answers', response };
      },
    },
    {
      check: 'POST /deployments/count',
      run: async () => {
        const response = await orchestrator.read({ method: 'POST', path: '/deployments/count', body: {} });
        const count = jsonOf(response.body);
        if (typeof count !== 'number') throw new UnexpectedAnswer(`answered ${response.status} but not with a count: ${excerpt(response.body)}`, response.status);
        return { detail: `${count} deployment${count === 1 ? '' : 's'} visible with ${credentials}`, response };
      },
    },
  ];
}

function airflowChecks(orchestrator: Orchestrator, connection: ConnectionOf<'airflow'>): Check[] {
  const api = `/api/v${connection.api_version}`;
  const login = connection.api_version === 2 && !connection.token;
  // Every call carries the credentials, so an Airflow 3 login (a fresh token) comes first.
  return [
    {
      check: `${login ? 'POST /auth/token, ' : ''}GET ${api}/version`,
      run: async () => {
        let response: HttpResult;
        try {
          response = await orchestrator.read({ method: 'GET', path: '/version' });
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
          throw new UnexpectedAnswer(`${reasonOf(error)} (Airflow 2 serves /api/v1, Airflow 3 /api/v2: is api_version ${connection.api_version} right, and base_url the API server without /api/…?)`, 404);
        }
        const version = (jsonOf(response.body) as { version?: unknown } | undefined)?.version;
        if (typeof version !== 'string') throw new UnexpectedAnswer(`answered ${response.status} but not with Airflow's version: ${excerpt(response.body)}`, response.status);
        return { detail: `Airflow ${version}${login ? `; ${connection.username ?? ''} got a token from /auth/token` : ''}`, response };
      },
    },
    {
      check: `GET ${api}/dags?limit=1`,
      run: async () => {
        const response = await orchestrator.read({ method: 'GET', path: '/dags?limit=1' });
        const total = (jsonOf(response.body) as { total_entries?: unknown } | undefined)?.total_entries;
        if (typeof total !== 'number') throw new UnexpectedAnswer(`answered ${response.status} but not with a DAG list: ${excerpt(response.body)}`, response.status);
        const who = connection.token ? 'the token' : (connection.username ?? '');
        return { detail: `${total} DAG${total === 1 ? '' : 's'} visible to ${who}`, response };
      },
    },
  ];
}

function slackChecks(http: HttpClient, connection: ConnectionOf<'slack'>, timeoutMs: number, signal: AbortSignal): Check[] {
  return [
    {
      check: 'POST auth.test',
      run: async () => {
        const response = await callOrThrow(http, 'Slack auth.test', {
          url: `${connection.api_url.replace(/\/+$/, '')}/auth.test`,
          method: 'POST',
          headers: { authorization: `Bearer ${connection.bot_token ?? ''}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: '',
          timeoutMs,
          signal,
        });
        const answer = jsonOf(response.body) as { ok?: unknown; error?: unknown; user?: unknown; team?: unknown } | undefined;
        if (answer?.ok !== true) {
          const error = typeof answer?.error === 'string' ? answer.error : `not Slack's answer: ${excerpt(response.body)}`;
          throw new UnexpectedAnswer(`Slack auth.test failed: ${error}`, response.status);
        }
        const user = typeof answer.user === 'string' ? answer.user : 'a bot';
        const team = typeof answer.team === 'string' ? answer.team : 'its workspace';
        return { detail: `the bot token works: ${user} in ${team}`, response };
      },
    },
  ];
}

const webhookUntestable =
  'a webhook connection holds a signing secret and headers, not a URL: each call-webhook action names its own URL, so there is nothing to call; use a dry run of the automation, or call the endpoint yourself';
const incomingWebhookUntestable =
  'an incoming webhook cannot be tested without posting a message to its channel (Slack offers no read-only call for it); it is checked when an action first posts';

export interface ConnectionTester {
  /**
   * Tests a stored connection. Throws the repository's ConnectionError when it does not exist or
   * cannot be decrypted (SecretKeyMissingError without a key).
   */
  test(name: string): Promise<ConnectionTestResult>;
}

export function createConnectionTester(options: ConnectionTesterOptions): ConnectionTester {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async test(name) {
      const connection = await options.connections.resolve(name, 'slack', 'webhook', 'prefect', 'airflow');
      const answer = (status: ConnectionTestResult['status'], message: string, checks: readonly ConnectionCheck[] = []): ConnectionTestResult => ({ connection: name, kind: connection.kind, status, message, checks });
      if (connection.kind === 'webhook') return answer('not_testable', webhookUntestable);
      if (connection.kind === 'slack' && !connection.bot_token) return answer('not_testable', incomingWebhookUntestable);
      const signal = new AbortController().signal;
      let checks: Check[];
      if (connection.kind === 'slack') checks = slackChecks(options.http, connection, timeoutMs, signal);
      else {
        // A fresh token cache: an Airflow 3 test always logs in, so that it checks the credentials.
        const orchestrator = orchestratorOf({ http: options.http, tokens: createTokenCache(), timeoutMs, signal, runId: randomUUID() }, name, connection);
        checks = connection.kind === 'prefect' ? prefectChecks(orchestrator, connection) : airflowChecks(orchestrator, connection);
      }
      const { results, failed } = await runChecks(checks);
      if (failed) return answer('failed', `${failed.check}: ${failed.detail}`, results);
      return answer('ok', results.map((result) => result.detail).join('; '), results);
    },
  };
}
