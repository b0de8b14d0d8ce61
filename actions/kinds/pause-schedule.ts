import type { Executor } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render } from '../templates.ts';

/** pause-schedule: a Prefect deployment's schedule, or an Airflow DAG (paused). */
export const execute: Executor<'pause-schedule'> = async (context) => {
  const orchestrator = await orchestratorFor(context);
  const deployment = (await render(context.action.deployment, context.scope)).trim();
  const schedule = context.action.schedule === undefined ? undefined : (await render(context.action.schedule, context.scope)).trim();
  return orchestrator.setSchedulePaused({ deployment, paused: true, ...(schedule ? { schedule } : {}) });
};
