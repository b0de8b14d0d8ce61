import { randomUUID } from 'node:crypto';
import { header, isObject, jsonBody, startHttpStandIn, type HttpStandIn, type RecordedRequest, type Reply } from './http-stand-in.ts';

/*
 * The Prefect 3 REST API (https://docs.prefect.io/v3/api-ref/rest-api/server), the parts Vigil uses:
 *   POST  /api/deployments/{id}/create_flow_run   DeploymentFlowRunCreate → 201 FlowRun (200 for an existing idempotency_key)
 *   GET   /api/deployments/name/{flow}/{deployment}                       → Deployment
 *   POST  /api/deployments/{id}/pause_deployment | resume_deployment      → 200
 *   PATCH /api/work_queues/{id}                    WorkQueueUpdate        → 204
 *   GET   /api/health                                                   → true (no credentials needed)
 *   POST  /api/deployments/count                     filters             → the number of deployments
 * Like the real server: path ids must be UUIDs (422), request models forbid unknown fields
 * (422 extra_forbidden), unknown ids are 404 {"detail": "… not found"}. Auth: bearer API key
 * (Cloud) or basic auth (server auth string); 401 otherwise.
 */

export interface PrefectFlowRun {
  readonly id: string;
  readonly deployment_id: string;
  readonly name: string;
  readonly parameters: Record<string, unknown>;
  readonly idempotency_key: string | null;
  readonly tags: readonly string[];
}

export interface PrefectStandIn extends HttpStandIn {
  readonly apiUrl: string;
  readonly deploymentId: string;
  readonly workQueueId: string;
  readonly flowRuns: PrefectFlowRun[];
  readonly deploymentPaused: () => boolean;
  readonly workQueuePaused: () => boolean;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const flowRunCreateFields = new Set([
  'state', 'name', 'parameters', 'enforce_parameter_schema', 'context', 'infrastructure_document_id', 'empirical_policy',
  'tags', 'idempotency_key', 'parent_task_run_id', 'work_queue_name', 'job_variables', 'labels',
]);
const workQueueUpdateFields = new Set(['name', 'description', 'is_paused', 'concurrency_limit', 'priority', 'last_polled']);

function validation(loc: (string | number)[], msg: string, type: string): Reply {
  return { status: 422, body: { exception_message: 'Invalid request received.', exception_detail: [{ loc, msg, type }], request_body: null } };
}

function extraFields(body: Record<string, unknown>, allowed: Set<string>): Reply | undefined {
  const extra = Object.keys(body).find((key) => !allowed.has(key));
  return extra ? validation(['body', extra], 'Extra inputs are not permitted', 'extra_forbidden') : undefined;
}

export async function startPrefectStandIn(options: { apiKey?: string; authString?: string } = {}): Promise<PrefectStandIn> {
  const deploymentId = randomUUID();
  const workQueueId = randomUUID();
  const flowRuns: PrefectFlowRun[] = [];
  let deploymentPaused = false;
  let workQueuePaused = false;

  function authorized(request: RecordedRequest): boolean {
    const authorization = header(request, 'authorization');
    if (options.apiKey) return authorization === `Bearer ${options.apiKey}`;
    if (options.authString) return authorization === `Basic ${Buffer.from(options.authString).toString('base64')}`;
    return true;
  }

  const standIn = await startHttpStandIn((request) => {
    // Like the server's auth middleware: health and readiness probes need no credentials.
    if (request.method === 'GET' && request.path === '/api/health') return { status: 200, body: true };
    if (!authorized(request)) return { status: 401, body: { detail: 'Unauthorized' } };
    const path = request.path;
    let match: RegExpExecArray | null;

    if ((match = /^\/api\/deployments\/name\/([^/]+)\/([^/]+)$/.exec(path)) && request.method === 'GET') {
      if (decodeURIComponent(match[1]!) === 'sales-refresh' && decodeURIComponent(match[2]!) === 'prod') {
        return { status: 200, body: { id: deploymentId, name: 'prod', flow_id: randomUUID(), paused: deploymentPaused } };
      }
      return { status: 404, body: { detail: 'Deployment not found' } };
    }

    if ((match = /^\/api\/deployments\/([^/]+)\/(create_flow_run|pause_deployment|resume_deployment)$/.exec(path))) {
      if (request.method !== 'POST') return { status: 405, body: { detail: 'Method Not Allowed' } };
      const id = match[1]!;
      if (!uuidPattern.test(id)) return validation(['path', 'id'], 'Input should be a valid UUID', 'uuid_parsing');
      if (id !== deploymentId) return { status: 404, body: { detail: 'Deployment not found' } };
      if (match[2] === 'pause_deployment') {
        deploymentPaused = true;
        return { status: 200, body: null };
      }
      if (match[2] === 'resume_deployment') {
        deploymentPaused = false;
        return { status: 200, body: null };
      }
      if (!(header(request, 'content-type') ?? '').startsWith('application/json')) return validation(['body'], 'Field required', 'missing');
      const body = jsonBody(request);
      if (!isObject(body)) return validation(['body'], 'Input should be a valid dictionary', 'dict_type');
      const extra = extraFields(body, flowRunCreateFields);
      if (extra) return extra;
      if (body.parameters !== undefined && !isObject(body.parameters)) return validation(['body', 'parameters'], 'Input should be a valid dictionary', 'dict_type');
      if (body.tags !== undefined && !(Array.isArray(body.tags) && body.tags.every((tag) => typeof tag === 'string'))) {
        return validation(['body', 'tags'], 'Input should be a valid list', 'list_type');
      }
      const idempotencyKey = typeof body.idempotency_key === 'string' ? body.idempotency_key : null;
      const existing = idempotencyKey ? flowRuns.find((run) => run.idempotency_key === idempotencyKey) : undefined;
      if (existing) return { status: 200, body: { ...existing, state: { type: 'SCHEDULED', name: 'Scheduled' } } };
      const run: PrefectFlowRun = {
        id: randomUUID(),
        deployment_id: id,
        name: typeof body.name === 'string' ? body.name : `vigilant-otter-${flowRuns.length + 1}`,
        parameters: (body.parameters) ?? {},
        idempotency_key: idempotencyKey,
        tags: (body.tags) ?? [],
      };
      flowRuns.push(run);
      return { status: 201, body: { ...run, state: { type: 'SCHEDULED', name: 'Scheduled' } } };
    }

    if (path === '/api/deployments/count' && request.method === 'POST') {
      const body = jsonBody(request);
      if (request.body !== '' && !isObject(body)) return validation(['body'], 'Input should be a valid dictionary', 'dict_type');
      const extra = isObject(body) ? extraFields(body, new Set(['flows', 'flow_runs', 'task_runs', 'deployments', 'work_pools', 'work_pool_queues'])) : undefined;
      return extra ?? { status: 200, body: 1 };
    }

    if ((match = /^\/api\/work_queues\/([^/]+)$/.exec(path))) {
      if (request.method !== 'PATCH') return { status: 405, body: { detail: 'Method Not Allowed' } };
      const id = match[1]!;
      if (!uuidPattern.test(id)) return validation(['path', 'id'], 'Input should be a valid UUID', 'uuid_parsing');
      if (id !== workQueueId) return { status: 404, body: { detail: 'Work Queue not found' } };
      const body = jsonBody(request);
      if (!isObject(body)) return validation(['body'], 'Input should be a valid dictionary', 'dict_type');
      const extra = extraFields(body, workQueueUpdateFields);
      if (extra) return extra;
      if (body.is_paused !== undefined && typeof body.is_paused !== 'boolean') return validation(['body', 'is_paused'], 'Input should be a valid boolean', 'bool_type');
      if (typeof body.is_paused === 'boolean') workQueuePaused = body.is_paused;
      return { status: 204 };
    }
    return { status: 404, body: { detail: 'Not Found' } };
  });

  return {
    ...standIn,
    apiUrl: `${standIn.url}/api`,
    deploymentId,
    workQueueId,
    flowRuns,
    deploymentPaused: () => deploymentPaused,
    workQueuePaused: () => workQueuePaused,
  };
}
