import { v5 as uuidv5 } from 'uuid';
import type { FiringContext } from '../schemas/firing.ts';

/** Namespace of the deterministic ids of events Vigil's actions emit (repeats of an attempt dedupe). */
const eventIdNamespace = '5b0c7d8e-3f4a-4e8b-9c1d-2a6f7e9b0c3d';

/** The deterministic id of an event an action emits, from what makes it unique. */
export function derivedEventId(...parts: readonly (string | number)[]): string {
  return uuidv5(parts.join('\u0000'), eventIdNamespace);
}

/** Derived events carry `vigil_depth`: one more than the event that caused them. */
export function depthAfter(context: FiringContext): number {
  const depth = Number(context.event?.payload.vigil_depth ?? 0);
  return (Number.isFinite(depth) && depth >= 0 ? Math.floor(depth) : 0) + 1;
}
