import { Cron } from 'croner';
import type { VigilEvent } from '../../schemas/event.ts';
import { maxReportedEvents, type OpenFiring, type WindowEffect, type WindowEntry } from './window-types.ts';

/**
 * Calendar SLA: at least `threshold` expected events must occur in a window that closes at each
 * occurrence of the `by` cron expression (read in an IANA time zone, so DST is handled by the
 * calendar, not by fixed offsets). The window opens at the latest `opens` cron occurrence before
 * the deadline, a fixed duration before it, or (default) at the previous deadline. A miss fires
 * at deadline + grace (wall clock); an expected event that occurred after the missed window
 * opened and arrives later resolves the firing.
 */
export interface DeadlineSchedule {
  /** The first deadline strictly after `t`. */
  nextDeadline(t: number): number | null;
  /** When the window that closes at `deadline` opens. */
  opensFor(deadline: number): number;
  /** The last `n` deadlines strictly before `t`, oldest first (status history). */
  previousDeadlines(n: number, t: number): number[];
}

export function deadlineSchedule(by: string, timezone: string, opens: string | number | undefined): DeadlineSchedule {
  const byCron = new Cron(by, { timezone, paused: true });
  const opensCron = typeof opens === 'string' ? new Cron(opens, { timezone, paused: true }) : null;
  return {
    nextDeadline(t) {
      return byCron.nextRun(new Date(t))?.getTime() ?? null;
    },
    opensFor(deadline) {
      if (typeof opens === 'number') return deadline - opens;
      const cron = opensCron ?? byCron;
      return cron.previousRuns(1, new Date(deadline))[0]?.getTime() ?? deadline - 86_400_000;
    },
    previousDeadlines(n, t) {
      return byCron
        .previousRuns(n, new Date(t))
        .map((date) => date.getTime())
        .reverse();
    },
  };
}

export interface DeadlineConfig {
  readonly threshold: number;
  readonly graceMs: number;
  readonly schedule: DeadlineSchedule;
}

export interface DeadlineState {
  /** The current window; null when the schedule has no further deadline. */
  open: number;
  deadline: number | null;
  /** Expected events with t ≥ open (this window and later ones), sorted by arrival. */
  entries: WindowEntry[];
  /** Missed windows waiting for a late event (most recent last, at most 10). */
  unresolved: OpenFiring[];
  seq: number;
}

const maxUnresolved = 10;
/** A process down for a long time fires at most this many missed windows at once, then skips ahead. */
const maxCatchUp = 100;

export function initialDeadlineState(now: number, config: DeadlineConfig): DeadlineState {
  const deadline = config.schedule.nextDeadline(now);
  return { open: deadline === null ? now : config.schedule.opensFor(deadline), deadline, entries: [], unresolved: [], seq: 0 };
}

export function deadlineDueAt(state: DeadlineState, config: DeadlineConfig): number | null {
  return state.deadline === null ? null : state.deadline + config.graceMs;
}

function countInWindow(state: DeadlineState, config: DeadlineConfig): WindowEntry[] {
  const end = (state.deadline ?? Infinity) + config.graceMs;
  return state.entries.filter((e) => e.t >= state.open && e.t < end);
}

/**
 * Events that occurred after the deadline, inside the grace period, and were needed to meet the
 * threshold: they belong to the closing window and must not count again for the next one (which,
 * by default, opens at this deadline). Grace events the window did not need stay for the next.
 */
function graceEntriesConsumed(inWindow: readonly WindowEntry[], deadline: number, threshold: number): Set<string> {
  const onTime = inWindow.filter((e) => e.t < deadline).length;
  const needed = Math.max(0, threshold - onTime);
  const fromGrace = inWindow.filter((e) => e.t >= deadline).sort((a, b) => a.t - b.t);
  return new Set(needed > 0 && fromGrace.length + onTime >= threshold ? fromGrace.slice(0, needed).map((e) => e.id) : []);
}

/** The timer: every deadline (+ grace) that passed by `now` closes its window, firing when it was missed. */
export function deadlineOnTimer(state: DeadlineState, now: number, config: DeadlineConfig): WindowEffect[] {
  const effects: WindowEffect[] = [];
  let steps = 0;
  while (state.deadline !== null && now >= state.deadline + config.graceMs) {
    const inWindow = countInWindow(state, config);
    if (inWindow.length < config.threshold && steps < maxCatchUp) {
      state.seq += 1;
      const firing: OpenFiring = {
        seq: state.seq,
        triggeredAt: now,
        windowStart: state.open,
        windowEnd: state.deadline,
        deadline: state.deadline,
        count: inWindow.length,
      };
      state.unresolved.push(firing);
      if (state.unresolved.length > maxUnresolved) state.unresolved.shift();
      effects.push({
        kind: 'fire',
        ...firing,
        events: inWindow.flatMap((e) => (e.event ? [e.event] : [])).slice(-maxReportedEvents),
        event: null,
        resolvable: true,
      });
    }
    const consumed = graceEntriesConsumed(inWindow, state.deadline, config.threshold);
    steps++;
    const next = config.schedule.nextDeadline(steps >= maxCatchUp ? Math.max(now - config.graceMs, state.deadline) : state.deadline);
    state.deadline = next;
    state.open = next === null ? state.open : config.schedule.opensFor(next);
    state.entries = state.entries.filter((e) => e.t >= state.open && !consumed.has(e.id));
  }
  return effects;
}

/** An expected event: due deadlines close first (as of `now`); then it resolves missed windows it is late for, and counts. */
export function deadlineOnEvent(state: DeadlineState, event: VigilEvent, t: number, now: number, config: DeadlineConfig): WindowEffect[] {
  const effects = deadlineOnTimer(state, now, config);
  if (state.entries.some((e) => e.id === event.id)) {
    effects.push({ kind: 'duplicate', event });
    return effects;
  }
  const resolved = state.unresolved.filter((f) => t >= f.windowStart);
  for (const firing of resolved) effects.push({ kind: 'resolve', firing, resolvedAt: now, event });
  state.unresolved = state.unresolved.filter((f) => t < f.windowStart);
  // Once the current window holds `threshold` on-time events, further on-time events change
  // nothing: they are not stored, so the state stays small under a busy event stream.
  const satisfied = state.deadline !== null && t < state.deadline && state.entries.filter((e) => e.t >= state.open && e.t < state.deadline!).length >= config.threshold;
  if (t >= state.open && !satisfied) {
    state.entries.push({ id: event.id, t, event });
    const withEvents = state.entries.filter((e) => e.event);
    if (withEvents.length > maxReportedEvents) delete withEvents[0]!.event;
  }
  return effects;
}
