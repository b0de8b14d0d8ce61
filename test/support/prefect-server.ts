import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/*
 * A real Prefect 3 server for the integration tests: `prefect server start` from the pinned
 * virtualenv .python/prefect (scripts/python/prefect.txt, prepared by scripts/test.sh through
 * scripts/python-env.sh), on 127.0.0.1 with a temporary PREFECT_HOME and SQLite database and an
 * API auth string. Start it once per test file (`before`) and stop it in `after`.
 *
 * The helpers below set up what the tests need through Prefect's own REST API, the same calls
 * the Prefect client and CLI make (flows, work pools and queues, deployments with a parameter
 * schema and schedules, flow-run state changes).
 */

const root = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** The Prefect virtualenv: $VIGIL_PREFECT_VENV (set by scripts/test.sh) or created/reused now. */
async function prefectVenv(): Promise<string> {
  if (process.env.VIGIL_PREFECT_VENV) return process.env.VIGIL_PREFECT_VENV;
  const { stdout } = await run('bash', ['-c', 'source scripts/python-env.sh && vigil_python_env prefect'], { cwd: root, maxBuffer: 1 << 20, timeout: 900_000 });
  return stdout.trim().split('\n').at(-1)!;
}

/**
 * An empty, migrated Prefect SQLite database, made once per virtualenv (it goes with it when the
 * requirements change): each server starts from a copy in ~7 s instead of migrating for ~20 s.
 */
async function migratedDatabase(venv: string): Promise<string> {
  const file = join(venv, 'vigil-migrated-prefect.db');
  if (await access(file).then(() => true, () => false)) return file;
  const home = await mkdtemp(join(tmpdir(), 'vigil-prefect-migrate-'));
  try {
    const database = join(home, 'prefect.db');
    await run(join(venv, 'bin', 'prefect'), ['server', 'database', 'upgrade', '-y'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, PREFECT_HOME: home, PREFECT_API_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${database}` },
      maxBuffer: 1 << 22,
      timeout: 300_000,
    });
    await copyFile(database, `${file}.${process.pid}`);
    await rename(`${file}.${process.pid}`, file);
    return file;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export interface PrefectDeployment {
  readonly id: string;
  readonly name: string;
  readonly paused: boolean;
  readonly schedules: ReadonlyArray<{ id: string; active: boolean; slug: string | null; schedule: Record<string, unknown> }>;
}

export interface PrefectWorkQueue {
  readonly id: string;
  readonly name: string;
  readonly is_paused: boolean;
}

export interface PrefectFlowRun {
  readonly id: string;
  readonly name: string;
  readonly deployment_id: string | null;
  readonly parameters: Record<string, unknown>;
  readonly idempotency_key: string | null;
  readonly tags: readonly string[];
  readonly state_type: string | null;
}

export interface PrefectServer {
  /** The API base, e.g. http://127.0.0.1:4321/api (a Vigil `prefect` connection's api_url). */
  readonly apiUrl: string;
  /** PREFECT_SERVER_API_AUTH_STRING of this server ("user:password"). */
  readonly authString: string;
  /** Milliseconds from spawn to a healthy API (reported by the tests that start it). */
  readonly startedInMs: number;
  /** Calls the API with the server's credentials; throws on a non-2xx answer. */
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  createFlow(name: string): Promise<{ id: string }>;
  createWorkPool(name: string): Promise<{ id: string }>;
  createWorkQueue(pool: string, name: string): Promise<PrefectWorkQueue>;
  readWorkQueue(pool: string, name: string): Promise<PrefectWorkQueue>;
  createDeployment(request: {
    flow: string;
    name: string;
    workPool?: string;
    parameterSchema?: Record<string, unknown>;
    schedules?: ReadonlyArray<{ schedule: Record<string, unknown>; slug?: string }>;
  }): Promise<PrefectDeployment>;
  readDeployment(id: string): Promise<PrefectDeployment>;
  flowRuns(deploymentId: string): Promise<PrefectFlowRun[]>;
  /** Moves a flow run to a state (as the engine reports it), e.g. RUNNING then FAILED. */
  setFlowRunState(flowRunId: string, type: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED', message?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startPrefectServer(): Promise<PrefectServer> {
  const venv = await prefectVenv();
  const home = await mkdtemp(join(tmpdir(), 'vigil-prefect-'));
  await copyFile(await migratedDatabase(venv), join(home, 'prefect.db'));
  const port = await freePort();
  const authString = 'vigil:prefect-test-secret';
  const apiUrl = `http://127.0.0.1:${port}/api`;
  const authorization = `Basic ${Buffer.from(authString).toString('base64')}`;
  const t0 = performance.now();
  const child: ChildProcess = spawn(join(venv, 'bin', 'prefect'), ['server', 'start', '--host', '127.0.0.1', '--port', String(port)], {
    env: {
      PATH: `${join(venv, 'bin')}:${process.env.PATH ?? ''}`,
      HOME: home,
      PREFECT_HOME: home,
      PREFECT_API_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${join(home, 'prefect.db')}`,
      PREFECT_SERVER_API_AUTH_STRING: authString,
      PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
      PREFECT_UI_ENABLED: 'false',
      // Only what the tests use: no scheduler creating runs, no late-run or cancellation sweeps.
      PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED: 'false',
      PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED: 'false',
      PREFECT_SERVER_SERVICES_FOREMAN_ENABLED: 'false',
      PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED: 'false',
      PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED: 'false',
      PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED: 'false',
      // Events reach /api/events/filter within a second (default 5 s): the event-source tests wait less.
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '1',
      PREFECT_LOGGING_LEVEL: 'WARNING',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  async function stop(): Promise<void> {
    if (!exited && child.pid !== undefined) {
      const gone = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(home, { recursive: true, force: true });
  }

  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prefect server start exited before it was healthy:\n${output}`);
    }
    const healthy = await fetch(`${apiUrl}/health`, { headers: { authorization } }).then((response) => response.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prefect server did not become healthy within 180 s:\n${output}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  const startedInMs = Math.round(performance.now() - t0);

  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    // As Prefect's own client does: a 503 (SQLite busy under load) is retried.
    for (let attempt = 1; ; attempt += 1) {
      response = await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (response.status !== 503 || attempt === 5) break;
      await response.text();
      await new Promise((resolveWait) => setTimeout(resolveWait, 250 * attempt));
    }
    const text = await response.text();
    if (!response.ok) throw new Error(`Prefect ${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  const readDeployment = (id: string) => api<PrefectDeployment>('GET', `/deployments/${id}`);

  return {
    apiUrl,
    authString,
    startedInMs,
    api,
    createFlow: (name) => api('POST', '/flows/', { name }),
    createWorkPool: (name) => api('POST', '/work_pools/', { name, type: 'process' }),
    createWorkQueue: (pool, name) => api('POST', `/work_pools/${encodeURIComponent(pool)}/queues`, { name }),
    readWorkQueue: (pool, name) => api('GET', `/work_pools/${encodeURIComponent(pool)}/queues/${encodeURIComponent(name)}`),
    async createDeployment({ flow, name, workPool, parameterSchema, schedules }) {
      const { id: flowId } = await api<{ id: string }>('POST', '/flows/', { name: flow });
      const created = await api<{ id: string }>('POST', '/deployments/', {
        name,
        flow_id: flowId,
        ...(workPool ? { work_pool_name: workPool } : {}),
        ...(parameterSchema ? { parameter_openapi_schema: parameterSchema, enforce_parameter_schema: true } : {}),
        schedules: (schedules ?? []).map((schedule) => ({ schedule: schedule.schedule, active: true, ...(schedule.slug ? { slug: schedule.slug } : {}) })),
      });
      return readDeployment(created.id);
    },
    readDeployment,
    async flowRuns(deploymentId) {
      const runs = await api<Array<PrefectFlowRun & { state_type: string | null }>>('POST', '/flow_runs/filter', {
        deployments: { id: { any_: [deploymentId] } },
        sort: 'EXPECTED_START_TIME_ASC',
      });
      return runs;
    },
    async setFlowRunState(flowRunId, type, message) {
      const result = await api<{ status: string; details?: unknown }>('POST', `/flow_runs/${flowRunId}/set_state`, {
        state: { type, ...(message ? { message } : {}) },
        force: true,
      });
      if (result.status !== 'ACCEPT') throw new Error(`Prefect did not accept the ${type} state: ${JSON.stringify(result)}`);
    },
    close: stop,
  };
}
