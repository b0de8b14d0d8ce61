import type { ExecutionResult } from '../executor.ts';

/** The operations the orchestrator actions need, on Prefect or Airflow. */
export interface Orchestrator {
  runDeployment(request: {
    deployment: string;
    parameters: Record<string, unknown>;
    runName?: string;
    tags?: readonly string[];
  }): Promise<ExecutionResult>;
  /** Prefect work queue; Airflow pool (paused = 0 slots; resuming needs the slot count). */
  setWorkQueuePaused(request: { workQueue: string; paused: boolean; slots?: number }): Promise<ExecutionResult>;
  /** Prefect deployment schedule; Airflow DAG (paused/unpaused). */
  setSchedulePaused(request: { deployment: string; paused: boolean }): Promise<ExecutionResult>;
}
