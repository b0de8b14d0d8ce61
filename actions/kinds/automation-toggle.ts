import type { ActionOf } from '../../schemas/action.ts';
import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ExecutionContext, ExecutionResult } from '../executor.ts';
import { render } from '../templates.ts';

/**
 * Pauses or resumes an automation (default: the one that fired) through the automations' owner,
 * as the API does: the evaluators hear of it by NOTIFY, and a paused automation's deadlines are
 * no longer due.
 */
export async function setAutomationEnabled(
  context: ExecutionContext<ActionOf<'pause-automation' | 'resume-automation'>>,
  enabled: boolean,
): Promise<ExecutionResult> {
  const name = context.action.automation ? (await render(context.action.automation, context.scope)).trim() : context.job.automation_name;
  if (!name) throw new PermanentActionError('the `automation` template rendered to an empty string');
  if ((await context.automations.setEnabled(name, enabled)) === null) throw new PermanentActionError(`automation "${name}" does not exist`);
  return { result: { automation: name, enabled } };
}
