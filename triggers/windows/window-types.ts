import type { VigilEvent } from '../../schemas/event.ts';

/** Times are epoch milliseconds. Event time is the event's `occurred`. */

/** One event as a window holds it: its id (for dedupe), its event time, and the event itself while it may be reported. */
export interface WindowEntry {
  readonly id: string;
  readonly t: number;
  event?: VigilEvent;
}

/** A firing that has not resolved yet (proactive and deadline triggers). */
export interface OpenFiring {
  /** Firing number within this state key: with the automation and key it makes the firing id. */
  readonly seq: number;
  readonly triggeredAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly deadline?: number;
  readonly count: number;
}

export interface FireEffect extends OpenFiring {
  readonly kind: 'fire';
  /** The events that made it fire (most recent last, at most 20). */
  readonly events: readonly VigilEvent[];
  /** The event that fired it; null when a deadline passed. */
  readonly event: VigilEvent | null;
  /** Fired from an unresolved expectation: resolvable later. */
  readonly resolvable: boolean;
}

export interface ResolveEffect {
  readonly kind: 'resolve';
  readonly firing: OpenFiring;
  readonly resolvedAt: number;
  readonly event: VigilEvent;
}

export interface LateEffect {
  readonly kind: 'late';
  readonly event: VigilEvent;
  /** How far behind the key's watermark (latest event time seen) the event was. */
  readonly behindMs: number;
}

export interface DuplicateEffect {
  readonly kind: 'duplicate';
  readonly event: VigilEvent;
}

export type WindowEffect = FireEffect | ResolveEffect | LateEffect | DuplicateEffect;

/** Most events a firing reports, and most full events a window keeps for that purpose. */
export const maxReportedEvents = 20;

export function reportedEvents(entries: readonly WindowEntry[]): VigilEvent[] {
  const events: VigilEvent[] = [];
  for (const entry of entries) if (entry.event) events.push(entry.event);
  return events.slice(-maxReportedEvents);
}

/** Index at which `entry` goes to keep `entries` sorted by (t, id). */
export function insertionIndex(entries: readonly WindowEntry[], t: number, id: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid]!;
    if (e.t < t || (e.t === t && e.id < id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
