import type { ActionOf } from '../../schemas/action.ts';
import type { ExecutionContext, ExecutionResult } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render } from '../templates.ts';

/** Pauses or resumes a Prefect deployment (or one of its schedules) or an Airflow DAG. */
export async function setSchedulePaused(context: ExecutionContext<ActionOf<'pause-schedule' | 'resume-schedule'>>, paused: boolean): Promise<ExecutionResult> {
  const orchestrator = await orchestratorFor(context);
  const deployment = (await render(context.action.deployment, context.scope)).trim();
  const schedule = context.action.schedule === undefined ? undefined : (await render(context.action.schedule, context.scope)).trim();
  return orchestrator.setSchedulePaused({ deployment, paused, ...(schedule ? { schedule } : {}) });
}
