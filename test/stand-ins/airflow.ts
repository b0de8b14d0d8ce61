import { randomBytes } from 'node:crypto';
import { header, isObject, jsonBody, startHttpStandIn, type HttpStandIn, type RecordedRequest, type Reply } from './http-stand-in.ts';

/*
 * The Airflow stable REST API, the parts Vigil uses, in both versions:
 *
 * v1 (Airflow 2, https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html):
 *   basic auth; errors are problem+json {type, title, status, detail}; marshmallow rejects unknown fields (400).
 * v2 (Airflow 3, https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html):
 *   bearer JWT from POST /auth/token {username, password} → 201 {access_token}; pydantic models
 *   forbid unknown fields (422 extra_forbidden); TriggerDAGRunPostBody requires `logical_date` (nullable).
 *
 *   POST  /api/vN/dags/{dag_id}/dagRuns                    → 200 DAGRun; 409 when dag_run_id exists
 *   PATCH /api/vN/dags/{dag_id}?update_mask=is_paused      → 200 DAG
 *   PATCH /api/vN/pools/{pool_name}?update_mask=slots      → 200 Pool
 *   GET   /api/vN/version                                  → 200 {version, git_version}, no credentials needed
 *   GET   /api/vN/dags?limit=N                             → 200 {dags, total_entries}
 * Airflow 3 answers /api/v1/… with 404 "/api/v1 has been removed in Airflow 3, …".
 *
 * Routes that do not exist answer as each server does: Airflow 2's webserver (Flask) with its
 * HTML 404 page outside /api/v1 and connexion's problem+json "Not Found" inside it; Airflow 3's
 * API server (FastAPI) with 404 {"detail": "Not Found"} and 405 {"detail": "Method Not Allowed"}.
 * Airflow 3 tokens are JWTs checked against the server's secret: after `rotateJwtSecret()` the
 * tokens issued before answer 403 {"detail": "Invalid JWT token"}; after `expireTokens()`, 401.
 */

export interface AirflowDagRun {
  readonly dag_id: string;
  readonly dag_run_id: string;
  readonly conf: Record<string, unknown>;
  readonly logical_date: string | null;
  readonly note: string | null;
}

export interface AirflowStandIn extends HttpStandIn {
  readonly version: 1 | 2;
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  readonly dagRuns: AirflowDagRun[];
  readonly dags: Map<string, { is_paused: boolean }>;
  readonly pools: Map<string, { slots: number }>;
  /** Tokens issued by /auth/token (v2). */
  readonly tokensIssued: () => number;
  /** Invalidates every issued token (v2): the next call gets 401 and must log in again. */
  expireTokens(): void;
  /** A new JWT secret (v2, e.g. the API server redeployed): tokens issued before answer 403. */
  rotateJwtSecret(): void;
}

const airflow2NotFoundPage =
  '<!DOCTYPE html>\n<html lang="en">\n<head><title>Airflow 404</title></head>\n<body><h1>Page not found</h1><p>404 = lots of circles</p></body>\n</html>\n';

const v1DagRunFields = new Set(['dag_run_id', 'logical_date', 'execution_date', 'data_interval_start', 'data_interval_end', 'conf', 'note']);
const v2DagRunFields = new Set(['dag_run_id', 'data_interval_start', 'data_interval_end', 'logical_date', 'run_after', 'conf', 'note']);

function fakeJwt(): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS512', typ: 'JWT' })}.${encode({ sub: 'admin', exp: Math.floor(Date.now() / 1000) + 86_400, jti: randomBytes(8).toString('hex') })}.${randomBytes(16).toString('base64url')}`;
}

export async function startAirflowStandIn(version: 1 | 2, options: { username?: string; password?: string } = {}): Promise<AirflowStandIn> {
  const username = options.username ?? 'vigil';
  const password = options.password ?? 'correct horse battery staple';
  const dagRuns: AirflowDagRun[] = [];
  const dags = new Map([['sales_refresh', { is_paused: false }]]);
  const pools = new Map([['default_pool', { slots: 128 }]]);
  let validTokens = new Set<string>();
  let rotatedTokens = new Set<string>();
  let issued = 0;

  const problem = (status: number, title: string, detail: string): Reply =>
    version === 1
      ? { status, headers: { 'content-type': 'application/problem+json' }, body: { type: `https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/${title.replace(/ /g, '')}`, title, status, detail } }
      : { status, body: { detail } };

  const unknownField = (body: Record<string, unknown>, allowed: Set<string>): Reply | undefined => {
    const extra = Object.keys(body).find((key) => !allowed.has(key));
    if (!extra) return undefined;
    return version === 1
      ? problem(400, 'Bad Request', `{'${extra}': ['Unknown field.']}`)
      : { status: 422, body: { detail: [{ type: 'extra_forbidden', loc: ['body', extra], msg: 'Extra inputs are not permitted', input: body[extra] }] } };
  };

  /** undefined when authorized, else the server's answer. */
  function unauthorized(request: RecordedRequest): Reply | undefined {
    const authorization = header(request, 'authorization') ?? '';
    if (version === 1) {
      return authorization === `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` ? undefined : problem(401, 'Unauthorized', 'Unauthorized');
    }
    const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    if (token !== undefined && validTokens.has(token)) return undefined;
    if (token !== undefined && rotatedTokens.has(token)) return { status: 403, body: { detail: 'Invalid JWT token' } };
    return { status: 401, body: { detail: 'Not authenticated' } };
  }

  const notFound = (path: string): Reply =>
    version === 2
      ? { status: 404, body: { detail: 'Not Found' } }
      : path.startsWith('/api/v1/')
        ? problem(404, 'Not Found', 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.')
        : { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: airflow2NotFoundPage };

  const prefix = `/api/v${version}`;
  const standIn = await startHttpStandIn((request) => {
    if (version === 2 && request.path === '/auth/token') {
      if (request.method !== 'POST') return { status: 405, body: { detail: 'Method Not Allowed' } };
      const body = jsonBody(request);
      if (!isObject(body) || body.username !== username || body.password !== password) return { status: 401, body: { detail: 'Invalid credentials' } };
      const token = fakeJwt();
      validTokens.add(token);
      issued += 1;
      return { status: 201, body: { access_token: token } };
    }
    if (version === 2 && request.path.startsWith('/api/v1/')) {
      return { status: 404, body: { detail: '/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead.' } };
    }
    if (!request.path.startsWith(`${prefix}/`)) return notFound(request.path);
    // Version information needs no credentials (in Airflow 2 and 3).
    if (request.method === 'GET' && request.path === `${prefix}/version`) return { status: 200, body: { version: version === 1 ? '2.10.5' : '3.0.2', git_version: null } };
    const denied = unauthorized(request);
    if (denied) return denied;
    const path = request.path.slice(prefix.length);
    const body = jsonBody(request);
    let match: RegExpExecArray | null;

    if ((match = /^\/dags\/([^/]+)\/dagRuns$/.exec(path)) && request.method === 'POST') {
      const dagId = decodeURIComponent(match[1]!);
      if (!dags.has(dagId)) return problem(404, 'DAG not found', `DAG with dag_id: '${dagId}' not found`);
      if (!isObject(body)) return problem(400, 'Bad Request', 'Request body must be a JSON object');
      const invalid = unknownField(body, version === 1 ? v1DagRunFields : v2DagRunFields);
      if (invalid) return invalid;
      if (version === 2 && !('logical_date' in body)) {
        return { status: 422, body: { detail: [{ type: 'missing', loc: ['body', 'logical_date'], msg: 'Field required', input: body }] } };
      }
      if (body.conf !== undefined && !isObject(body.conf)) return problem(400, 'Bad Request', "{'conf': ['Not a valid mapping type.']}");
      const dagRunId = typeof body.dag_run_id === 'string' ? body.dag_run_id : `manual__${new Date().toISOString()}`;
      if (!/^[A-Za-z0-9_.~:+-]+$/.test(dagRunId)) return problem(400, 'Bad Request', 'The run_id provided does not match the expected pattern');
      if (dagRuns.some((run) => run.dag_id === dagId && run.dag_run_id === dagRunId)) {
        return problem(409, 'Conflict', `DAGRun with DAG ID: '${dagId}' and DAGRun ID: '${dagRunId}' already exists`);
      }
      const run: AirflowDagRun = {
        dag_id: dagId,
        dag_run_id: dagRunId,
        conf: (body.conf) ?? {},
        logical_date: typeof body.logical_date === 'string' ? body.logical_date : null,
        note: typeof body.note === 'string' ? body.note : null,
      };
      dagRuns.push(run);
      return { status: 200, body: { ...run, state: 'queued', run_type: 'manual', external_trigger: true } };
    }

    if (path === '/dags' && request.method === 'GET') {
      const limit = Number(request.query.get('limit') ?? '100');
      const all = [...dags].map(([dagId, dag]) => ({ dag_id: dagId, is_paused: dag.is_paused }));
      return { status: 200, body: { dags: all.slice(0, limit), total_entries: all.length } };
    }

    if ((match = /^\/dags\/([^/]+)$/.exec(path)) && request.method === 'PATCH') {
      const dagId = decodeURIComponent(match[1]!);
      const dag = dags.get(dagId);
      if (!dag) return problem(404, 'DAG not found', `Dag with id: '${dagId}' was not found`);
      if (!isObject(body)) return problem(400, 'Bad Request', 'Request body must be a JSON object');
      const invalid = unknownField(body, new Set(['is_paused']));
      if (invalid) return invalid;
      if (typeof body.is_paused !== 'boolean') return problem(400, 'Bad Request', "{'is_paused': ['Not a valid boolean.']}");
      const mask = request.query.get('update_mask');
      if (mask !== null && mask !== 'is_paused') return problem(400, 'Bad Request', `Invalid field: ${mask} in update mask`);
      dag.is_paused = body.is_paused;
      return { status: 200, body: { dag_id: dagId, is_paused: dag.is_paused } };
    }

    if ((match = /^\/pools\/([^/]+)$/.exec(path)) && request.method === 'PATCH') {
      const name = decodeURIComponent(match[1]!);
      const pool = pools.get(name);
      if (!pool) return problem(404, 'Pool not found', `Pool with name:'${name}' not found`);
      if (!isObject(body)) return problem(400, 'Bad Request', 'Request body must be a JSON object');
      const invalid = unknownField(body, version === 1 ? new Set(['name', 'slots', 'description', 'include_deferred']) : new Set(['pool', 'name', 'slots', 'description', 'include_deferred']));
      if (invalid) return invalid;
      if (version === 1 && body.name !== name) return problem(400, 'Bad Request', "{'name': ['Missing data for required field.']}");
      if (typeof body.slots !== 'number' || !Number.isInteger(body.slots) || body.slots < -1) return problem(400, 'Bad Request', "{'slots': ['Not a valid integer.']}");
      pool.slots = body.slots;
      return { status: 200, body: { name, slots: pool.slots, occupied_slots: 0, running_slots: 0, queued_slots: 0, open_slots: pool.slots } };
    }
    if (version === 2 && /^\/(dags|pools)\//.test(path)) return { status: 405, body: { detail: 'Method Not Allowed' } };
    return notFound(request.path);
  });

  return {
    ...standIn,
    version,
    baseUrl: standIn.url,
    username,
    password,
    dagRuns,
    dags,
    pools,
    tokensIssued: () => issued,
    expireTokens() {
      validTokens = new Set();
    },
    rotateJwtSecret() {
      rotatedTokens = new Set([...rotatedTokens, ...validTokens]);
      validTokens = new Set();
    },
  };
}
