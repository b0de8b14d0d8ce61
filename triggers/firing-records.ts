import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { Automation } from '../schemas/automation.ts';
import type { VigilEvent } from '../schemas/event.ts';
import type { ActionOutboxRow, FiringContext } from '../schemas/firing.ts';
import { vigilDepth } from './matching/loop-protection.ts';
import type { FireEffect, OpenFiring, ResolveEffect } from './windows/window-types.ts';

/**
 * What a firing or a resolution writes: the firing row, one action outbox row per action, and
 * the lifecycle event. Every id is deterministic, so a replay produces the same rows.
 */
const namespace = '6f1c2b1e-7a3d-5c4e-9b8a-1d2e3f405162';

export function triggerHash(automation: Automation): string {
  return createHash('sha256').update(JSON.stringify(automation.trigger)).digest('hex').slice(0, 32);
}

export function firingId(automationName: string, hash: string, stateKey: string, seq: number): string {
  return uuidv5(`${automationName}\u0000${hash}\u0000${stateKey}\u0000${seq}`, namespace);
}

function outboxId(firing: string, phase: 'triggered' | 'resolved', actionIndex: number): string {
  return uuidv5(`${firing}\u0000${phase}\u0000${actionIndex}`, namespace);
}

function lifecycleEventId(firing: string, phase: 'triggered' | 'resolved'): string {
  return uuidv5(`${firing}\u0000${phase}\u0000event`, namespace);
}

function lateEventId(automationName: string, eventId: string): string {
  return uuidv5(`${automationName}\u0000${eventId}\u0000late`, namespace);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export interface FiringRow {
  readonly id: string;
  readonly automationName: string;
  readonly stateKey: string;
  readonly forEach: Readonly<Record<string, string>>;
  readonly triggeredAt: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly deadline: number | null;
  readonly count: number;
  readonly eventIds: readonly string[];
}

export interface FiringWrite {
  readonly firing: FiringRow;
  readonly actions: ActionOutboxRow[];
  readonly lifecycleEvent: VigilEvent;
}

export interface ResolutionWrite {
  readonly firingId: string;
  readonly resolvedAt: number;
  readonly actions: ActionOutboxRow[];
  readonly lifecycleEvent: VigilEvent;
}

function automationContext(a: Automation): FiringContext['automation'] {
  return { name: a.name, description: a.description, tags: a.tags };
}

function lifecycleEvent(
  a: Automation,
  phase: 'triggered' | 'resolved',
  firing: string,
  at: number,
  context: FiringContext['firing'],
  cause: readonly VigilEvent[],
): VigilEvent {
  const depth = Math.max(0, ...cause.map(vigilDepth)) + 1;
  return {
    id: lifecycleEventId(firing, phase),
    occurred: iso(at),
    received: iso(at),
    event: `vigil.automation.${phase}`,
    resource: { id: `vigil.automation.${a.name}`, name: a.name },
    related: [],
    payload: {
      automation: a.name,
      firing_id: firing,
      state: phase,
      for_each: context.for_each,
      window: context.window,
      count: context.count,
      ...(context.deadline ? { deadline: context.deadline } : {}),
      triggered_at: context.triggered_at,
      ...(context.resolved_at ? { resolved_at: context.resolved_at } : {}),
      event_ids: context.events.map((e) => e.id),
      events: context.events,
      vigil_depth: depth,
    },
  };
}

export function firingWrite(a: Automation, hash: string, stateKey: string, forEach: Readonly<Record<string, string>>, effect: FireEffect): FiringWrite {
  const id = firingId(a.name, hash, stateKey, effect.seq);
  const firing: FiringContext['firing'] = {
    id,
    state: 'triggered',
    triggered_at: iso(effect.triggeredAt),
    ...(effect.deadline !== undefined ? { deadline: iso(effect.deadline) } : {}),
    for_each: forEach,
    window: { start: iso(effect.windowStart), end: iso(effect.windowEnd) },
    count: effect.count,
    events: effect.events,
  };
  const context: FiringContext = { automation: automationContext(a), firing, event: effect.event };
  return {
    firing: {
      id,
      automationName: a.name,
      stateKey,
      forEach,
      triggeredAt: effect.triggeredAt,
      windowStart: effect.windowStart,
      windowEnd: effect.windowEnd,
      deadline: effect.deadline ?? null,
      count: effect.count,
      eventIds: effect.events.map((e) => e.id),
    },
    actions: a.actions.map((action, i) => ({ id: outboxId(id, 'triggered', i), firing_id: id, automation_name: a.name, phase: 'triggered', action_index: i, action, context })),
    lifecycleEvent: lifecycleEvent(a, 'triggered', id, effect.triggeredAt, firing, effect.event ? [effect.event] : effect.events),
  };
}

export function resolutionWrite(a: Automation, hash: string, stateKey: string, forEach: Readonly<Record<string, string>>, effect: ResolveEffect): ResolutionWrite {
  const open: OpenFiring = effect.firing;
  const id = firingId(a.name, hash, stateKey, open.seq);
  const firing: FiringContext['firing'] = {
    id,
    state: 'resolved',
    triggered_at: iso(open.triggeredAt),
    resolved_at: iso(effect.resolvedAt),
    ...(open.deadline !== undefined ? { deadline: iso(open.deadline) } : {}),
    for_each: forEach,
    window: { start: iso(open.windowStart), end: iso(open.windowEnd) },
    count: open.count,
    events: [effect.event],
  };
  const context: FiringContext = { automation: automationContext(a), firing, event: effect.event };
  return {
    firingId: id,
    resolvedAt: effect.resolvedAt,
    actions: a.actions_on_resolve.map((action, i) => ({ id: outboxId(id, 'resolved', i), firing_id: id, automation_name: a.name, phase: 'resolved', action_index: i, action, context })),
    lifecycleEvent: lifecycleEvent(a, 'resolved', id, effect.resolvedAt, firing, [effect.event]),
  };
}

export function lateEvent(a: Automation, event: VigilEvent, behindMs: number, allowedLatenessMs: number, now: number): VigilEvent {
  return {
    id: lateEventId(a.name, event.id),
    occurred: iso(now),
    received: iso(now),
    event: 'vigil.event.late',
    resource: { id: `vigil.automation.${a.name}`, name: a.name },
    related: [{ id: event.resource.id, role: 'late-event-resource' }],
    payload: {
      automation: a.name,
      event_id: event.id,
      event_name: event.event,
      occurred: event.occurred,
      received: event.received,
      behind_watermark_ms: behindMs,
      allowed_lateness_ms: allowedLatenessMs,
      vigil_depth: vigilDepth(event) + 1,
    },
  };
}
