import type { Executor } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render } from '../templates.ts';

/** resume-work-queue: a Prefect work queue, or an Airflow pool (resumed through its slot count). */
export const execute: Executor<'resume-work-queue'> = async (context) => {
  const orchestrator = await orchestratorFor(context);
  const workQueue = (await render(context.action.work_queue, context.scope)).trim();
  return orchestrator.setWorkQueuePaused({ workQueue, paused: false, ...(context.action.slots === undefined ? {} : { slots: context.action.slots }) });
};
