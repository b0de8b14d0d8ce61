import { createHash } from 'node:crypto';
import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ConnectionOf } from '../../schemas/connection.ts';
import type { ExecutionResult } from '../executor.ts';
import { jsonOf, type HttpResult } from '../http.ts';
import { PermanentHttpError, RetryableHttpError, classifyTransportError, throwUnlessSuccess } from '../retry-policy.ts';
import { jwtExpiry } from './token-cache.ts';
import type { Orchestrator, OrchestratorContext } from './orchestrator.ts';

/*
 * Airflow stable REST API.
 *   v1 (Airflow 2): {base}/api/v1, basic auth (or a bearer token).
 *   v2 (Airflow 3): {base}/api/v2, bearer JWT from POST {base}/auth/token {username, password}.
 *
 *   POST  /dags/{dag_id}/dagRuns    v1 {dag_run_id, conf, note?}   v2 {dag_run_id, logical_date: null, conf, note?}
 *   PATCH /dags/{dag_id}?update_mask=is_paused            {is_paused}
 *   PATCH /pools/{pool}?update_mask=slots                 v1 {name, slots}   v2 {slots}
 *
 * The DAG run id is `vigil__<action run id>`: a repeated attempt gets 409 Conflict from Airflow,
 * which means the run exists already, i.e. success. Airflow pools have no pause: pausing a pool
 * sets its slots to 0, resuming sets the `slots` given in the action.
 *
 * A cached Airflow 3 token rejected with 401 or 403 (expired, or the API server's JWT secret was
 * rotated) is dropped and Vigil logs in again once. A 404 or 405 that is the server's "no such
 * route" (not "no such DAG") names the likely cause: a wrong `api_version` or `base_url`. A 2xx
 * is only a success when it is Airflow's answer (the DAG run, DAG or pool that was changed).
 */

const dagIdPattern = /^[A-Za-z0-9_.-]{1,250}$/;

/**
 * Whether a 404/405 is the server's "no such route" rather than an answer about a DAG or pool:
 * a 405; Airflow 3 (FastAPI) `{"detail": "Not Found"}`; Airflow 2 (connexion) `"title": "Not Found"`
 * with "The requested URL was not found"; or no JSON at all (a proxy or another server).
 */
function isMissingRoute(response: HttpResult): boolean {
  if (response.status === 405) return true;
  const body = jsonOf(response.body) as { detail?: unknown; title?: unknown } | undefined;
  if (body === undefined || body === null || typeof body !== 'object') return true;
  if (body.detail === 'Not Found') return true;
  // Airflow 3 on /api/v1/…: "/api/v1 has been removed in Airflow 3, please use … /api/v2 instead."
  return typeof body.detail === 'string' && (body.detail.startsWith('The requested URL was not found') || /^\/api\/v1 has been removed/.test(body.detail));
}

export function airflowOrchestrator(context: OrchestratorContext, connectionName: string, connection: ConnectionOf<'airflow'>): Orchestrator {
  const base = connection.base_url.replace(/\/+$/, '');
  const apiBase = `${base}/api/v${connection.api_version}`;
  const tokenKey = `airflow:${connectionName}:${createHash('sha256').update(`${connection.username ?? ''}:${connection.password ?? ''}`).digest('hex').slice(0, 16)}`;

  async function login(): Promise<{ token: string; expiresAt: number }> {
    let response: HttpResult;
    try {
      response = await context.http({
        url: `${base}/auth/token`,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username: connection.username, password: connection.password }),
        timeoutMs: context.timeoutMs,
        signal: context.signal,
      });
    } catch (error) {
      throw classifyTransportError('Airflow /auth/token', error);
    }
    if (response.status === 404 || response.status === 405) {
      throw new PermanentHttpError(
        `Airflow POST ${base}/auth/token answered HTTP ${response.status}: no Airflow 3 login there. Likely cause: the server is ` +
          'Airflow 2 (set the connection\'s api_version to 1) or base_url is not the API server root',
        { status: response.status, body: '' },
      );
    }
    // Never echo the login response body: it may hold a token.
    throwUnlessSuccess('Airflow /auth/token', response.status, response.status >= 400 ? response.body : '', response.headers['retry-after']);
    const token = (jsonOf(response.body) as { access_token?: unknown } | undefined)?.access_token;
    if (typeof token !== 'string') throw new RetryableHttpError('Airflow /auth/token returned no access_token');
    return { token, expiresAt: jwtExpiry(token) ?? Date.now() + 10 * 60_000 };
  }

  /** Airflow 3 with username and password: bearer tokens from /auth/token, cached. */
  const logsIn = connection.api_version === 2 && !connection.token;

  async function authorization(): Promise<string> {
    if (connection.token) return `Bearer ${connection.token}`;
    if (connection.api_version === 1) return `Basic ${Buffer.from(`${connection.username ?? ''}:${connection.password ?? ''}`).toString('base64')}`;
    return `Bearer ${await context.tokens.get(tokenKey, login)}`;
  }

  /** The call's answer, already checked: a non-2xx throws (with the likely cause of a missing route). */
  async function call(method: 'GET' | 'POST' | 'PATCH', path: string, body: unknown, what: string, accept: readonly number[] = []): Promise<HttpResult> {
    const send = async () =>
      context.http({
        url: `${apiBase}${path}`,
        method,
        headers: { authorization: await authorization(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), accept: 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: context.timeoutMs,
        signal: context.signal,
      });
    let response: HttpResult;
    try {
      response = await send();
      // A cached Airflow 3 token that is no longer accepted (expired, or the API server's secret
      // changed: 403 "Invalid JWT token"): log in again, once.
      if ((response.status === 401 || response.status === 403) && logsIn) {
        context.tokens.invalidate(tokenKey);
        response = await send();
      }
    } catch (error) {
      throw classifyTransportError(what, error);
    }
    if (accept.includes(response.status)) return response;
    if ((response.status === 404 || response.status === 405) && isMissingRoute(response)) {
      const other = connection.api_version === 1 ? '2 (Airflow 3, /api/v2)' : '1 (Airflow 2, /api/v1)';
      const excerpt = response.body.slice(0, 200).replace(/\s+/g, ' ').trim();
      throw new PermanentHttpError(
        `${what} answered HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''}; ${apiBase} has no such endpoint. Likely cause: the connection's api_version ` +
          `(${connection.api_version}) does not match the server (try ${other}), or base_url is not the Airflow webserver/API server root`,
        { status: response.status, body: response.body },
      );
    }
    throwUnlessSuccess(what, response.status, response.body, response.headers['retry-after']);
    return response;
  }

  /** The parsed JSON object of a 2xx answer, or a permanent failure saying it is not Airflow's. */
  function answerOf(response: HttpResult, what: string, expected: string, check: (value: Record<string, unknown>) => boolean): Record<string, unknown> {
    const value = jsonOf(response.body);
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && check(value as Record<string, unknown>)) return value as Record<string, unknown>;
    const excerpt = response.body.slice(0, 120).replace(/\s+/g, ' ');
    throw new PermanentActionError(
      `${what} answered HTTP ${response.status} without ${expected}${excerpt ? ` (${JSON.stringify(excerpt)})` : ''}: that is not Airflow's REST API; check base_url`,
    );
  }

  function checkDag(dagId: string): string {
    if (!dagIdPattern.test(dagId)) throw new PermanentActionError(`"${dagId}" is not a valid Airflow DAG id`);
    return dagId;
  }

  return {
    async runDeployment({ deployment, parameters, runName }): Promise<ExecutionResult> {
      const dagId = checkDag(deployment);
      const dagRunId = `vigil__${context.runId}`;
      const body: Record<string, unknown> = { dag_run_id: dagRunId, conf: parameters };
      if (connection.api_version === 2) body.logical_date = null;
      if (runName) body.note = runName;
      const what = `Airflow POST /dags/${dagId}/dagRuns`;
      const response = await call('POST', `/dags/${encodeURIComponent(dagId)}/dagRuns`, body, what, [409]);
      if (response.status === 409) {
        // The DAG run of an earlier attempt exists: the action has already been done.
        return { responseStatus: 409, responseBody: response.body, result: { orchestrator: 'airflow', dag_id: dagId, dag_run_id: dagRunId, existed: true } };
      }
      answerOf(response, what, `the DAG run ${dagRunId}`, (run) => run.dag_run_id === dagRunId);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'airflow', dag_id: dagId, dag_run_id: dagRunId } };
    },

    async setSchedulePaused({ deployment, paused, schedule }): Promise<ExecutionResult> {
      if (schedule !== undefined) throw new PermanentActionError('an Airflow DAG has one schedule: leave `schedule` out to pause or unpause the DAG');
      const dagId = checkDag(deployment);
      const what = `Airflow PATCH /dags/${dagId}`;
      const response = await call('PATCH', `/dags/${encodeURIComponent(dagId)}?update_mask=is_paused`, { is_paused: paused }, what);
      answerOf(response, what, `the DAG with is_paused ${paused}`, (dag) => dag.dag_id === dagId && dag.is_paused === paused);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'airflow', dag_id: dagId, paused } };
    },

    async setWorkQueuePaused({ workQueue, paused, slots }): Promise<ExecutionResult> {
      const newSlots = paused ? 0 : slots;
      if (newSlots === undefined) {
        throw new PermanentHttpError(`resuming Airflow pool "${workQueue}" needs \`slots\` in the action (Airflow pools have no pause; pausing sets 0 slots)`);
      }
      const body = connection.api_version === 1 ? { name: workQueue, slots: newSlots } : { slots: newSlots };
      const what = `Airflow PATCH /pools/${workQueue}`;
      const response = await call('PATCH', `/pools/${encodeURIComponent(workQueue)}?update_mask=slots`, body, what);
      answerOf(response, what, `the pool with ${newSlots} slots`, (pool) => pool.name === workQueue && pool.slots === newSlots);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'airflow', pool: workQueue, slots: newSlots } };
    },

    read({ method, path, body }) {
      return call(method, path, body, `Airflow ${method} /api/v${connection.api_version}${path.split('?')[0]}`);
    },
  };
}
