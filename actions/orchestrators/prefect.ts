import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ConnectionOf } from '../../schemas/connection.ts';
import type { ExecutionResult } from '../executor.ts';
import { callOrThrow, jsonOf, type HttpResult } from '../http.ts';
import type { Orchestrator, OrchestratorContext } from './orchestrator.ts';
import { isUuid } from '../../schemas/uuid.ts';

/*
 * Prefect 3 REST API (server and Cloud):
 *   POST  {api}/deployments/{id}/create_flow_run   {parameters, name?, tags?, idempotency_key}  → 201 flow run
 *   GET   {api}/deployments/name/{flow}/{deployment}                                           → deployment (by name)
 *   POST  {api}/deployments/{id}/pause_deployment | resume_deployment                         → 200
 *   PATCH {api}/work_queues/{id}                    {is_paused}                                 → 204
 * Auth: Prefect Cloud API key as a bearer token; a self-hosted server's auth string as basic auth.
 * `idempotency_key` = the action run id: a repeated attempt returns the flow run created first.
 */


export function prefectOrchestrator(context: OrchestratorContext, connection: ConnectionOf<'prefect'>): Orchestrator {
  const base = connection.api_url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (connection.api_key) headers.authorization = `Bearer ${connection.api_key}`;
  else if (connection.auth_string) headers.authorization = `Basic ${Buffer.from(connection.auth_string).toString('base64')}`;

  function call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<HttpResult> {
    return callOrThrow(context.http, `Prefect ${method} ${path.replace(/[0-9a-f-]{36}/gi, '{id}')}`, {
      url: `${base}${path}`,
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: context.timeoutMs,
      signal: context.signal,
    });
  }

  /** A deployment id, or "flow-name/deployment-name" looked up by name. */
  async function deploymentId(reference: string): Promise<string> {
    if (isUuid(reference)) return reference;
    const [flow, deployment, ...rest] = reference.split('/');
    if (!flow || !deployment || rest.length > 0) {
      throw new PermanentActionError(`Prefect deployment "${reference}" is neither a deployment id nor "flow-name/deployment-name"`);
    }
    const response = await call('GET', `/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(deployment)}`);
    const id = (jsonOf(response.body) as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string') throw new PermanentActionError(`Prefect returned no id for deployment "${reference}"`);
    return id;
  }

  return {
    async runDeployment({ deployment, parameters, runName, tags }): Promise<ExecutionResult> {
      const id = await deploymentId(deployment);
      const body: Record<string, unknown> = { parameters, idempotency_key: context.runId };
      if (runName) body.name = runName;
      if (tags) body.tags = tags;
      const response = await call('POST', `/deployments/${id}/create_flow_run`, body);
      const flowRun = jsonOf(response.body) as { id?: unknown; name?: unknown } | undefined;
      return {
        responseStatus: response.status,
        responseBody: response.body,
        result: { orchestrator: 'prefect', deployment_id: id, flow_run_id: flowRun?.id, flow_run_name: flowRun?.name },
      };
    },

    async setWorkQueuePaused({ workQueue, paused }): Promise<ExecutionResult> {
      if (!isUuid(workQueue)) throw new PermanentActionError(`Prefect work queue "${workQueue}" must be a work queue id (UUID)`);
      const response = await call('PATCH', `/work_queues/${workQueue}`, { is_paused: paused });
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'prefect', work_queue_id: workQueue, paused } };
    },

    async setSchedulePaused({ deployment, paused }): Promise<ExecutionResult> {
      const id = await deploymentId(deployment);
      const response = await call('POST', `/deployments/${id}/${paused ? 'pause_deployment' : 'resume_deployment'}`);
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'prefect', deployment_id: id, paused } };
    },

    read({ method, path, body }) {
      return call(method, path, body);
    },
  };
}
