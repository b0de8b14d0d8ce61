import type { Automation } from '../../schemas/automation.ts';
import type { StoredAutomation } from '../../triggers/index.ts';

/** An automation as the API shows it: the document with defaults, plus version and times. */
export interface AutomationResource extends Automation {
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export function automationResource(stored: StoredAutomation): AutomationResource {
  const a = stored.automation;
  return {
    name: a.name,
    description: a.description,
    enabled: stored.enabled,
    tags: a.tags,
    trigger: a.trigger,
    actions: a.actions,
    actions_on_resolve: a.actions_on_resolve,
    version: Number(stored.version),
    created_at: stored.createdAt.toISOString(),
    updated_at: stored.updatedAt.toISOString(),
  };
}
