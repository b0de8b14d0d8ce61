import type { ActionOf } from '../../schemas/action.ts';
import type { ConnectionOf } from '../../schemas/connection.ts';
import type { ExecutionContext } from '../executor.ts';
import { airflowOrchestrator } from './airflow.ts';
import type { Orchestrator, OrchestratorContext } from './orchestrator.ts';
import { prefectOrchestrator } from './prefect.ts';

type OrchestratorKind = 'run-deployment' | 'pause-work-queue' | 'resume-work-queue' | 'pause-schedule' | 'resume-schedule';

/** The orchestrator behind the action's connection (a `prefect` or an `airflow` connection). */
export async function orchestratorFor(context: ExecutionContext<ActionOf<OrchestratorKind>>): Promise<Orchestrator> {
  const connection = await context.connections.resolve(context.action.connection, 'prefect', 'airflow');
  return orchestratorOf(context, context.action.connection, connection);
}

/** The orchestrator of a resolved `prefect` or `airflow` connection (actions, connection tests). */
export function orchestratorOf(context: OrchestratorContext, name: string, connection: ConnectionOf<'prefect' | 'airflow'>): Orchestrator {
  return connection.kind === 'prefect' ? prefectOrchestrator(context, connection) : airflowOrchestrator(context, name, connection);
}
