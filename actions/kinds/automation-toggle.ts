import type { ActionOf } from '../../schemas/action.ts';
import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import type { ExecutionContext, ExecutionResult } from '../executor.ts';
import { render } from '../templates.ts';

/** Channel the trigger evaluator listens on to reload automations. */
export const automationsChannel = 'vigil_automations';

/** Sets `enabled` of an automation (default: the one that fired) and notifies the evaluators. */
export async function setAutomationEnabled(
  context: ExecutionContext<ActionOf<'pause-automation' | 'resume-automation'>>,
  enabled: boolean,
): Promise<ExecutionResult> {
  const name = context.action.automation ? (await render(context.action.automation, context.scope)).trim() : context.job.automation_name;
  if (!name) throw new PermanentActionError('the `automation` template rendered to an empty string');
  const updated = await context.db.transaction(async (tx) => {
    const rows = await tx.query<{ name: string }>('UPDATE automations SET enabled = $2, version = version + 1, updated_at = now() WHERE name = $1 RETURNING name', [name, enabled]);
    if (rows.length > 0) await tx.query('SELECT pg_notify($1, $2)', [automationsChannel, name]);
    return rows.length > 0;
  });
  if (!updated) throw new PermanentActionError(`automation "${name}" does not exist`);
  return { result: { automation: name, enabled } };
}
