import type { VigilEvent } from '../../schemas/event.ts';
import { validateAutomation, type Automation } from '../../schemas/automation.ts';

let counter = 0;

/** A stored-form event with defaults filled in. */
export function event(overrides: Partial<VigilEvent> & { event: string }): VigilEvent {
  counter++;
  const occurred = overrides.occurred ?? new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString();
  return {
    id: overrides.id ?? `e-${counter}`,
    occurred,
    received: overrides.received ?? occurred,
    event: overrides.event,
    resource: overrides.resource ?? { id: 'airflow.dag.sales' },
    related: overrides.related ?? [],
    payload: overrides.payload ?? {},
  };
}

/** A validated automation; throws with the errors when invalid. */
export function automation(json: Record<string, unknown>): Automation {
  const result = validateAutomation({ name: 'test', ...json });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.automation;
}

export const at = (iso: string): number => Date.parse(iso);

/** `n` app.job.finished events of `keys` resources, one millisecond apart from now: each fires a threshold-1 automation once. */
export function finishedEvents(prefix: string, n: number, keys: number): VigilEvent[] {
  const base = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    occurred: new Date(base + i).toISOString(),
    received: new Date(base + i).toISOString(),
    event: 'app.job.finished',
    resource: { id: `job.${i % keys}` },
    related: [],
    payload: {},
  }));
}
