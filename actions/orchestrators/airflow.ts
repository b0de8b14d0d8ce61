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
 */

const dagIdPattern = /^[A-Za-z0-9_.-]{1,250}$/;

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
    // Never echo the login response body: it may hold a token.
    throwUnlessSuccess('Airflow /auth/token', response.status, response.status >= 400 ? response.body : '', response.headers['retry-after']);
    const token = (jsonOf(response.body) as { access_token?: unknown } | undefined)?.access_token;
    if (typeof token !== 'string') throw new RetryableHttpError('Airflow /auth/token returned no access_token');
    return { token, expiresAt: jwtExpiry(token) ?? Date.now() + 10 * 60_000 };
  }

  async function authorization(): Promise<string> {
    if (connection.token) return `Bearer ${connection.token}`;
    if (connection.api_version === 1) return `Basic ${Buffer.from(`${connection.username ?? ''}:${connection.password ?? ''}`).toString('base64')}`;
    return `Bearer ${await context.tokens.get(tokenKey, login)}`;
  }

  async function call(method: 'GET' | 'POST' | 'PATCH', path: string, body: unknown, what: string): Promise<HttpResult> {
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
      // An expired Airflow 3 token: log in again once.
      if (response.status === 401 && connection.api_version === 2 && !connection.token) {
        context.tokens.invalidate(tokenKey);
        response = await send();
      }
    } catch (error) {
      throw classifyTransportError(what, error);
    }
    return response;
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
      const response = await call('POST', `/dags/${encodeURIComponent(dagId)}/dagRuns`, body, what);
      if (response.status === 409) {
        // The DAG run of an earlier attempt exists: the action has already been done.
        return { responseStatus: 409, responseBody: response.body, result: { orchestrator: 'airflow', dag_id: dagId, dag_run_id: dagRunId, existed: true } };
      }
      throwUnlessSuccess(what, response.status, response.body, response.headers['retry-after']);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'airflow', dag_id: dagId, dag_run_id: dagRunId } };
    },

    async setSchedulePaused({ deployment, paused }): Promise<ExecutionResult> {
      const dagId = checkDag(deployment);
      const what = `Airflow PATCH /dags/${dagId}`;
      const response = await call('PATCH', `/dags/${encodeURIComponent(dagId)}?update_mask=is_paused`, { is_paused: paused }, what);
      throwUnlessSuccess(what, response.status, response.body, response.headers['retry-after']);
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
      throwUnlessSuccess(what, response.status, response.body, response.headers['retry-after']);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'airflow', pool: workQueue, slots: newSlots } };
    },

    async read({ method, path, body }) {
      const what = `Airflow ${method} /api/v${connection.api_version}${path.split('?')[0]}`;
      const response = await call(method, path, body, what);
      throwUnlessSuccess(what, response.status, response.body, response.headers['retry-after']);
      return response;
    },
  };
}
