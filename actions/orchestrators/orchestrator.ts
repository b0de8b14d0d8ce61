import type { ActionOf } from '../../schemas/action.ts';
import type { ExecutionContext, ExecutionResult } from '../executor.ts';
import { airflowOrchestrator } from './airflow.ts';
import { prefectOrchestrator } from './prefect.ts';

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

type OrchestratorKind = 'run-deployment' | 'pause-work-queue' | 'resume-work-queue' | 'pause-schedule' | 'resume-schedule';

/** The orchestrator behind the action's connection (a `prefect` or an `airflow` connection). */
export async function orchestratorFor(context: ExecutionContext<ActionOf<OrchestratorKind>>): Promise<Orchestrator> {
  const connection = await context.connections.resolve(context.action.connection, 'prefect', 'airflow');
  return connection.kind === 'prefect'
    ? prefectOrchestrator(context, connection)
    : airflowOrchestrator(context, context.action.connection, connection);
}
