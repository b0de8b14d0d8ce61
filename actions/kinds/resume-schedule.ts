import type { Executor } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render } from '../templates.ts';

/** resume-schedule: a Prefect deployment's schedule, or an Airflow DAG (resumed). */
export const execute: Executor<'resume-schedule'> = async (context) => {
  const orchestrator = await orchestratorFor(context);
  const deployment = (await render(context.action.deployment, context.scope)).trim();
  const schedule = context.action.schedule === undefined ? undefined : (await render(context.action.schedule, context.scope)).trim();
  return orchestrator.setSchedulePaused({ deployment, paused: false, ...(schedule ? { schedule } : {}) });
};
