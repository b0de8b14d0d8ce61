import type { Automation } from '../schemas/automation.ts';
import type { StoredAutomation } from '../sdk/types.ts';
import type { LocalAutomation } from './automation-files.ts';
import { diffJson, type JsonChange } from './json-diff.ts';

export type PlanAction = 'created' | 'changed' | 'unchanged' | 'deleted';

export interface PlanStep {
  readonly name: string;
  readonly action: PlanAction;
  /** Where the automation is defined (absent for deletions). */
  readonly source?: string;
  /** Field-level changes (for `changed`). */
  readonly changes?: readonly JsonChange[];
  readonly local?: LocalAutomation;
}

/** The fields of an automation document; the rest of a stored record is bookkeeping. */
const documentFields = ['name', 'description', 'enabled', 'tags', 'trigger', 'actions', 'actions_on_resolve'] as const;

/** The automation document of a stored record (whether the server nests it under `automation` or not). */
export function storedDocument(record: StoredAutomation | { automation: Automation }): Record<string, unknown> {
  const source = (typeof (record as { automation?: unknown }).automation === 'object' ? (record as { automation: Automation }).automation : record) as Record<string, unknown>;
  const document: Record<string, unknown> = {};
  for (const field of documentFields) if (source[field] !== undefined) document[field] = source[field];
  return document;
}

export function sourceOf(item: LocalAutomation): string {
  return `${item.file}${item.index !== undefined ? `[${item.index}]` : ''}`;
}

/**
 * What `apply` does: for each local automation, create it, change it (with the field-level
 * diff against the stored document, both with defaults filled in) or leave it; with `prune`,
 * delete stored automations the files do not define.
 */
export function planApply(local: readonly LocalAutomation[], stored: readonly StoredAutomation[], prune: boolean): PlanStep[] {
  const byName = new Map(stored.map((record) => [storedDocument(record).name as string, record]));
  const steps: PlanStep[] = local.map((item) => {
    const name = item.automation.name;
    const existing = byName.get(name);
    if (!existing) return { name, action: 'created', source: sourceOf(item), local: item };
    const changes = diffJson(storedDocument(existing), item.automation);
    return changes.length === 0 ? { name, action: 'unchanged', source: sourceOf(item), local: item } : { name, action: 'changed', source: sourceOf(item), changes, local: item };
  });
  if (prune) {
    const wanted = new Set(local.map((item) => item.automation.name));
    for (const name of [...byName.keys()].sort()) {
      if (!wanted.has(name)) steps.push({ name, action: 'deleted' });
    }
  }
  return steps;
}
