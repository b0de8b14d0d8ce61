import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ConnectionOf } from '../../schemas/connection.ts';
import type { ExecutionResult } from '../executor.ts';
import { callOrThrow, jsonOf, type HttpResult } from '../http.ts';
import type { Orchestrator, OrchestratorContext } from './orchestrator.ts';
import { isUuid } from '../../schemas/uuid.ts';

/*
 * Prefect 3 REST API (server and Cloud):
 *   POST  {api}/deployments/{id}/create_flow_run   {parameters, name?, tags?, idempotency_key}  → 201 FlowRun (200: existing key)
 *   GET   {api}/deployments/name/{flow}/{deployment}                                           → Deployment
 *   GET   {api}/deployments/{id}                                                               → Deployment (with schedules)
 *   POST  {api}/deployments/{id}/pause_deployment | resume_deployment                         → 200 null
 *   PATCH {api}/deployments/{id}/schedules/{schedule id}   {active}                           → 204
 *   PATCH {api}/work_queues/{id}                    {is_paused}                                 → 204
 *   PATCH {api}/work_pools/{pool}/queues/{queue}    {is_paused}                                 → 204
 * Auth: Prefect Cloud API key as a bearer token; a self-hosted server's auth string as basic auth.
 * `idempotency_key` = the action run id: a repeated attempt returns the flow run created first.
 *
 * A 2xx is only a success when it is Prefect's answer: the flow run carries an id and our
 * deployment id, a deployment its id, and calls without a result answer with nothing or JSON.
 * Anything else (a proxy's or a UI's page, a different API) fails the action permanently and says
 * that api_url should be the API base.
 */


interface PrefectSchedule {
  readonly id: string;
  readonly active: boolean;
  readonly slug?: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function prefectOrchestrator(context: OrchestratorContext, connection: ConnectionOf<'prefect'>): Orchestrator {
  const base = connection.api_url.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (connection.api_key) headers.authorization = `Bearer ${connection.api_key}`;
  else if (connection.auth_string) headers.authorization = `Basic ${Buffer.from(connection.auth_string).toString('base64')}`;

  function describe(method: string, path: string): string {
    return `Prefect ${method} ${path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, '{id}')}`;
  }

  function call(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<HttpResult> {
    return callOrThrow(context.http, describe(method, path), {
      url: `${base}${path}`,
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: context.timeoutMs,
      signal: context.signal,
    });
  }

  function notPrefect(method: string, path: string, response: HttpResult, expected: string): PermanentActionError {
    const excerpt = response.body.slice(0, 120).replace(/\s+/g, ' ');
    return new PermanentActionError(
      `${describe(method, path)} answered HTTP ${response.status} without ${expected}${excerpt ? ` (${JSON.stringify(excerpt)})` : ''}: ` +
        `that is not Prefect's API; the connection's api_url must be the API base, e.g. http://prefect:4200/api`,
    );
  }

  /** A call that returns no result: its answer must be empty or JSON. */
  async function command(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<HttpResult> {
    const response = await call(method, path, body);
    if (response.body.trim() !== '' && jsonOf(response.body) === undefined) throw notPrefect(method, path, response, 'a JSON body');
    return response;
  }

  async function readDeployment(path: string, reference: string): Promise<{ id: string; schedules: PrefectSchedule[] }> {
    const response = await call('GET', path);
    const deployment = jsonOf(response.body);
    if (!isRecord(deployment) || typeof deployment.id !== 'string' || !isUuid(deployment.id)) {
      throw notPrefect('GET', path, response, `a deployment for "${reference}"`);
    }
    const schedules = Array.isArray(deployment.schedules)
      ? deployment.schedules.filter((schedule): schedule is PrefectSchedule => isRecord(schedule) && typeof schedule.id === 'string')
      : [];
    return { id: deployment.id, schedules };
  }

  /** A deployment id, or "flow-name/deployment-name" looked up by name. */
  async function deploymentId(reference: string): Promise<string> {
    if (isUuid(reference)) return reference;
    return (await deploymentByReference(reference)).id;
  }

  function deploymentByReference(reference: string): Promise<{ id: string; schedules: PrefectSchedule[] }> {
    if (isUuid(reference)) return readDeployment(`/deployments/${reference}`, reference);
    const [flow, deployment, ...rest] = reference.split('/');
    if (!flow || !deployment || rest.length > 0) {
      throw new PermanentActionError(`Prefect deployment "${reference}" is neither a deployment id nor "flow-name/deployment-name"`);
    }
    return readDeployment(`/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(deployment)}`, reference);
  }

  /** `PATCH` path of a work queue given by id or as "pool-name/queue-name". */
  function workQueuePath(workQueue: string): string {
    if (isUuid(workQueue)) return `/work_queues/${workQueue}`;
    const [pool, queue, ...rest] = workQueue.split('/');
    if (!pool || !queue || rest.length > 0) {
      throw new PermanentActionError(`Prefect work queue "${workQueue}" is neither a work queue id nor "work-pool-name/queue-name"`);
    }
    return `/work_pools/${encodeURIComponent(pool)}/queues/${encodeURIComponent(queue)}`;
  }

  return {
    async runDeployment({ deployment, parameters, runName, tags }): Promise<ExecutionResult> {
      const id = await deploymentId(deployment);
      const body: Record<string, unknown> = { parameters, idempotency_key: context.runId };
      if (runName) body.name = runName;
      if (tags) body.tags = tags;
      const path = `/deployments/${id}/create_flow_run`;
      const response = await call('POST', path, body);
      const flowRun = jsonOf(response.body);
      if (!isRecord(flowRun) || typeof flowRun.id !== 'string' || !isUuid(flowRun.id) || flowRun.deployment_id !== id) {
        throw notPrefect('POST', path, response, 'a flow run of this deployment');
      }
      return {
        responseStatus: response.status,
        responseBody: response.body,
        result: { orchestrator: 'prefect', deployment_id: id, flow_run_id: flowRun.id, flow_run_name: flowRun.name },
      };
    },

    async setWorkQueuePaused({ workQueue, paused }): Promise<ExecutionResult> {
      const path = workQueuePath(workQueue);
      const response = await command('PATCH', path, { is_paused: paused });
      const address = isUuid(workQueue) ? { work_queue_id: workQueue } : { work_queue: workQueue };
      return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'prefect', ...address, paused } };
    },

    async setSchedulePaused({ deployment, paused, schedule }): Promise<ExecutionResult> {
      if (schedule === undefined) {
        const id = await deploymentId(deployment);
        const response = await command('POST', `/deployments/${id}/${paused ? 'pause_deployment' : 'resume_deployment'}`);
        return { responseStatus: response.status, responseBody: response.body, result: { orchestrator: 'prefect', deployment_id: id, paused } };
      }
      // One schedule of a deployment with several: its `active` flag, found by id or slug.
      const found = await deploymentByReference(deployment);
      const target = found.schedules.find((candidate) => candidate.id === schedule || (candidate.slug ?? undefined) === schedule);
      if (!target) {
        const known = found.schedules.map((candidate) => candidate.slug ?? candidate.id).join(', ') || 'none';
        throw new PermanentActionError(`Prefect deployment "${deployment}" has no schedule "${schedule}" (its schedules: ${known})`);
      }
      const response = await command('PATCH', `/deployments/${found.id}/schedules/${target.id}`, { active: !paused });
      return {
        responseStatus: response.status,
        responseBody: response.body,
        result: { orchestrator: 'prefect', deployment_id: found.id, schedule_id: target.id, active: !paused },
      };
    },

    read({ method, path, body }) {
      return call(method, path, body);
    },
  };
}
