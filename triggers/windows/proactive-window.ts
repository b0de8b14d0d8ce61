import type { VigilEvent } from '../../schemas/event.ts';
import { maxReportedEvents, type OpenFiring, type WindowEffect } from './window-types.ts';

/**
 * Proactive expectations: fire when fewer than `threshold` expected events occur within
 * `within` — after each `after` event (per key), or continuously (heartbeat, no `after`).
 * The timer fires the expectation at its due time (wall clock); expected events that arrive
 * after that still count, and once `threshold` of them occurred the firing resolves.
 *
 * - after form: an `after` event opens a window [t, t + within) when none is open and no
 *   firing is waiting to resolve; further `after` events are ignored until then.
 * - heartbeat: a window is always open; when it is satisfied, the next one starts at the
 *   satisfying event's time (for threshold 1: "an event at least every `within`").
 * Expected events that occurred before the window started do not count.
 */
export interface ProactiveConfig {
  readonly threshold: number;
  readonly withinMs: number;
  readonly heartbeat: boolean;
  readonly allowedLatenessMs: number;
}

export interface ExpectationWindow {
  start: number;
  due: number;
  /** Ids of the expected events counted so far (at most `threshold`). */
  ids: string[];
  events: VigilEvent[];
  /** Set once the timer fired this window. */
  fired: OpenFiring | null;
}

export interface ProactiveState {
  watermark: number | null;
  window: ExpectationWindow | null;
  seq: number;
}

export function initialProactiveState(config: ProactiveConfig, start: number | null): ProactiveState {
  return { watermark: null, window: config.heartbeat && start !== null ? openWindow(start, config) : null, seq: 0 };
}

function openWindow(start: number, config: ProactiveConfig): ExpectationWindow {
  return { start, due: start + config.withinMs, ids: [], events: [], fired: null };
}

/** When the timer must look at this state next (epoch ms), or null. */
export function proactiveDueAt(state: ProactiveState): number | null {
  return state.window && !state.window.fired ? state.window.due : null;
}

/** The timer: fires the window if it is due and unsatisfied. */
export function proactiveOnTimer(state: ProactiveState, now: number, config: ProactiveConfig): WindowEffect[] {
  const window = state.window;
  if (!window || window.fired || now < window.due || window.ids.length >= config.threshold) return [];
  state.seq += 1;
  const firing = { seq: state.seq, triggeredAt: now, windowStart: window.start, windowEnd: window.due, deadline: window.due, count: window.ids.length };
  window.fired = firing;
  return [{ kind: 'fire', ...firing, events: window.events.slice(-maxReportedEvents), event: null, resolvable: true }];
}

export interface ProactiveRoles {
  readonly after: boolean;
  readonly expect: boolean;
}

/** An event reaches the state: due windows fire first (as of `now`), then the event counts and may resolve. */
export function proactiveOnEvent(
  state: ProactiveState,
  event: VigilEvent,
  t: number,
  roles: ProactiveRoles,
  now: number,
  config: ProactiveConfig,
): WindowEffect[] {
  const effects = proactiveOnTimer(state, now, config);
  if (state.watermark !== null && t < state.watermark - config.allowedLatenessMs) {
    effects.push({ kind: 'late', event, behindMs: state.watermark - t });
    return effects;
  }
  if (state.watermark === null || t > state.watermark) state.watermark = t;
  if (config.heartbeat && !state.window && roles.expect) state.window = openWindow(t, config);

  const window = state.window;
  if (roles.expect && window && t >= window.start) {
    if (window.ids.includes(event.id)) {
      effects.push({ kind: 'duplicate', event });
    } else {
      window.ids.push(event.id);
      window.events.push(event);
      if (window.events.length > maxReportedEvents) window.events.shift();
      if (window.ids.length >= config.threshold) {
        if (window.fired) effects.push({ kind: 'resolve', firing: window.fired, resolvedAt: now, event });
        state.window = config.heartbeat ? openWindow(Math.max(t, window.start), config) : null;
      }
    }
  }
  if (roles.after && !config.heartbeat && !state.window) state.window = openWindow(t, config);
  return effects;
}
