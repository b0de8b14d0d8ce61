import { v5 as uuidv5 } from 'uuid';
import type { VigilEvent } from '../schemas/event.ts';
import type { FiringContext } from '../schemas/firing.ts';
import type { OutboxJob } from './outbox-job.ts';

/** Namespace of the deterministic ids of events Vigil's actions emit (repeats of an attempt dedupe). */
const eventIdNamespace = '5b0c7d8e-3f4a-4e8b-9c1d-2a6f7e9b0c3d';

export function derivedEventId(...parts: readonly (string | number)[]): string {
  return uuidv5(parts.join('\u0000'), eventIdNamespace);
}

/** Derived events carry `vigil_depth`: one more than the event that caused them. */
export function depthAfter(context: FiringContext): number {
  const depth = Number(context.event?.payload.vigil_depth ?? 0);
  return (Number.isFinite(depth) && depth >= 0 ? Math.floor(depth) : 0) + 1;
}

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
      ...details,
      vigil_depth: depthAfter(job.context),
    },
    ...(job.context.event ? { follows: job.context.event.id } : {}),
  };
}
