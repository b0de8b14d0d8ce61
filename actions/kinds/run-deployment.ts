import type { Executor } from '../executor.ts';
import { orchestratorFor } from '../orchestrators/orchestrator-for.ts';
import { render, renderJson } from '../templates.ts';

/** run-deployment: a Prefect flow run from a deployment, or an Airflow DAG run, with templated (typed) parameters. */
export const execute: Executor<'run-deployment'> = async (context) => {
  const { action, scope } = context;
  const orchestrator = await orchestratorFor(context);
  const tags = action.tags ? (await Promise.all(action.tags.map(async (tag) => (await render(tag, scope)).trim()))).filter((tag) => tag !== '') : undefined;
  return orchestrator.runDeployment({
    deployment: (await render(action.deployment, scope)).trim(),
    parameters: (await renderJson(action.parameters, scope)) as Record<string, unknown>,
    ...(action.run_name ? { runName: await render(action.run_name, scope) } : {}),
    ...(tags ? { tags } : {}),
  });
};
