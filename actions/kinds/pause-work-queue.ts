import type { Executor } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render } from '../templates.ts';

/** pause-work-queue: a Prefect work queue, or an Airflow pool (paused through its slot count). */
export const execute: Executor<'pause-work-queue'> = async (context) => {
  const orchestrator = await orchestratorFor(context);
  const workQueue = (await render(context.action.work_queue, context.scope)).trim();
  return orchestrator.setWorkQueuePaused({ workQueue, paused: true });
};
