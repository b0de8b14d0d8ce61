import type { ExecutionContext, ExecutionResult } from '../executor.ts';
import type { HttpResult } from '../http.ts';

/** The operations the orchestrator actions need, on Prefect or Airflow. */
export interface Orchestrator {
  runDeployment(request: {
    deployment: string;
    parameters: Record<string, unknown>;
    runName?: string;
    tags?: readonly string[];
  }): Promise<ExecutionResult>;
  /** Prefect work queue (id or "pool/queue"); Airflow pool (paused = 0 slots; resuming needs the slot count). */
  setWorkQueuePaused(request: { workQueue: string; paused: boolean; slots?: number }): Promise<ExecutionResult>;
  /**
   * Prefect: the whole deployment (paused), or one of its schedules (by id or slug: its `active`
   * flag); Airflow: the DAG (paused/unpaused).
   */
  setSchedulePaused(request: { deployment: string; paused: boolean; schedule?: string }): Promise<ExecutionResult>;
  /**
   * A read of the orchestrator's API (path relative to the API base: Prefect's api_url,
   * Airflow's /api/vN) with the connection's credentials, as the actions send them; non-2xx
   * answers and transport failures throw the actions' errors. For connection tests.
   */
  read(request: { method: 'GET' | 'POST'; path: string; body?: unknown }): Promise<HttpResult>;
}

/** What an orchestrator needs of an action attempt's context (a connection test provides the same). */
export type OrchestratorContext = Pick<ExecutionContext, 'http' | 'tokens' | 'timeoutMs' | 'signal' | 'runId'>;
