import type { VigilEvent } from '../schemas/event.ts';
import { storableText } from '../schemas/storable.ts';
import { depthAfter, derivedEventId } from './derived-events.ts';
import type { OutboxJob } from './outbox-job.ts';

export type ActionLifecycle = 'started' | 'succeeded' | 'failed';

/** A `vigil.action.started|succeeded|failed` event about one action run. */
export function actionLifecycleEvent(
  type: ActionLifecycle,
  job: OutboxJob,
  kind: string,
  attempt: number,
  details: Record<string, unknown>,
): VigilEvent {
  const now = new Date().toISOString();
  return {
    id: derivedEventId('vigil.action', job.outbox_id, type, attempt),
    occurred: now,
    received: now,
    event: `vigil.action.${type}`,
    resource: {
      id: `vigil.automation.${job.automation_name}`,
      name: job.automation_name,
      action_kind: kind,
      action_index: String(job.action_index),
      phase: job.phase,
    },
    related: [{ id: `vigil.firing.${job.firing_id}`, role: 'firing' }],
    payload: {
      run_id: job.outbox_id,
      firing_id: job.firing_id,
      attempt,
      // error texts and response details come from other systems: kept storable (schemas/storable.ts)
      ...Object.fromEntries(Object.entries(details).map(([key, value]) => [key, typeof value === 'string' ? storableText(value) : value])),
      vigil_depth: depthAfter(job.context),
    },
    ...(job.context.event ? { follows: job.context.event.id } : {}),
  };
}
