import type { VigilEvent } from '../../schemas/event.ts';

/**
 * Loop protection. Vigil's own events (`vigil.*`) only reach triggers that name a `vigil.`
 * pattern (see event-matcher), and each lifecycle event carries `payload.vigil_depth`: one more
 * than the event that caused it. Events at the depth limit match no automation, so a chain of
 * automations reacting to each other stops.
 */
export const maxVigilDepth = 5;

export function vigilDepth(event: VigilEvent): number {
  if (!event.event.startsWith('vigil.')) return 0;
  const depth = event.payload['vigil_depth'];
  return typeof depth === 'number' && Number.isFinite(depth) ? depth : 1;
}

export function beyondDepthLimit(event: VigilEvent): boolean {
  return vigilDepth(event) >= maxVigilDepth;
}
