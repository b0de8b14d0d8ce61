import type { Automation } from '../schemas/automation.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { buildCatalogSnapshot } from './automation-catalog.ts';
import { durationMs, parseDuration } from '../schemas/durations.ts';
import { defaultAllowedLatenessMs } from './evaluator.ts';
import { explainerFor, type ClauseResult } from './explain.ts';
import { compileTriggerProgram, type TriggerProgram, type TriggerState } from './trigger-program.ts';
import { deadlineSchedule } from './windows/deadline-window.ts';
import type { WindowEffect } from './windows/window-types.ts';

/**
 * A dry run: what an automation would have done for a stream of events, computed with the
 * evaluator's own code (the catalog's router, the compiled trigger program, the pure window
 * state machines) against in-memory state and a virtual clock. Nothing is written: no trigger
 * state, no firings, no outbox rows, no lifecycle events, no actions.
 *
 * The virtual clock stands in for the evaluator's wall clock and for the deadline timer:
 * - each event arrives at max(clock, its `occurred` time) — feed events oldest first, and each
 *   one is evaluated as if it arrived when it occurred (lateness then never applies);
 * - before an event is evaluated, every state whose due time (a proactive expectation, a
 *   calendar deadline + grace) is at or before the clock is fired, in due order, each at its
 *   own due time — as the deadline timer would have;
 * - `finish(end)` advances the clock to `end`, firing what falls due by then, so misses inside
 *   the range show up as firings;
 * - states the evaluator creates when an automation is saved (deadlines, heartbeats without
 *   `for_each`) are created at `start`: the automation is taken to have existed since then;
 * - with `reportFrom`, the run warms up: what happens before it shapes the windows but is not
 *   reported (a replay of the stored history starts a window's length before its range).
 */
export interface DryRunOptions {
  /** Virtual clock at the start (epoch ms). */
  readonly start: number;
  /**
   * Firings before this time (epoch ms; default: all) are not reported, nor their resolutions,
   * and events before it are evaluated without being explained or counted: a warm-up that
   * gives the windows the state a running evaluator would have had at this time (see `historyReplayStart`).
   */
  readonly reportFrom?: number;
  /** As the evaluator's setting (default 5 min); matters only for events fed out of order. */
  readonly allowedLatenessMs?: number;
  /** Events explained clause by clause (the first ones; default 1,000). */
  readonly maxExplanations?: number;
  /** Firings listed in the result (the first ones; all are counted; default 1,000). */
  readonly maxListedFirings?: number;
  /** Timer steps (one per due window fired or closed) before the run gives up (default 100,000). */
  readonly maxTimerSteps?: number;
}

export interface DryRunFiring {
  /** `resolved` when an expected event arrived later within the run. */
  readonly state: 'triggered' | 'resolved';
  /** When it fired (virtual clock): the event's time, or the due time of a missed expectation. */
  readonly at: string;
  readonly triggered_at: string;
  readonly resolved_at?: string;
  /** The id of the event that resolved it. */
  readonly resolved_by?: string;
  readonly deadline?: string;
  readonly for_each: Readonly<Record<string, string>>;
  readonly window: { readonly start: string; readonly end: string };
  readonly count: number;
  /** The events that made it fire (the most recent ones, at most 20). */
  readonly event_ids: readonly string[];
}

export interface DryRunExplanation {
  readonly event_id: string;
  /** The same id, under the name `explain()` uses. */
  readonly event: string;
  readonly matched: boolean;
  readonly clauses: readonly ClauseResult[];
}

export interface DryRunResult {
  /** How many times it would have fired. */
  readonly fired: number;
  /** How many of those firings an expected event resolved within the run. */
  readonly resolved: number;
  readonly firings: readonly DryRunFiring[];
  readonly explanations: readonly DryRunExplanation[];
  /** Events evaluated. */
  readonly events: number;
  /** Events that reached the trigger's windows (matched every clause). */
  readonly matched: number;
  /** Events whose id was already counted. */
  readonly duplicates: number;
  /** Events behind their key's latest event time by more than the allowed lateness (not counted). */
  readonly late: number;
  /** The range of the virtual clock (its start is before the reported range when the run warmed up). */
  readonly clock: { readonly start: string; readonly end: string; readonly reported_from?: string };
  readonly firings_not_listed?: number;
  readonly explanations_not_listed?: number;
}

/** The run would take more timer steps than allowed (a frequent deadline over a long range). */
export class DryRunLimitError extends Error {
  override readonly name = 'DryRunLimitError';
}

export interface DryRun {
  /** Evaluates one event at max(clock, its occurred time); due states fire first. */
  add(event: VigilEvent): void;
  /** The clock's default end for an event list: the last event's time plus the trigger's window (see `defaultEnd`). */
  defaultEnd(): number;
  /** Advances the clock to `end` (never backwards), firing what falls due by then, and returns the result. */
  finish(end: number): DryRunResult;
}

interface KeyState {
  readonly stateKey: string;
  readonly forEach: Readonly<Record<string, string>>;
  readonly state: TriggerState;
}

interface Due {
  readonly at: number;
  readonly key: string;
}

/** A binary min-heap of due times; stale entries (the state's due time moved) are skipped when popped. */
function dueHeap() {
  const items: Due[] = [];
  const less = (a: number, b: number): boolean => items[a]!.at < items[b]!.at;
  const swap = (a: number, b: number): void => {
    [items[a], items[b]] = [items[b]!, items[a]!];
  };
  return {
    push(item: Due): void {
      items.push(item);
      let i = items.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!less(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    },
    peek(): Due | undefined {
      return items[0];
    },
    pop(): Due | undefined {
      const top = items[0];
      const last = items.pop();
      if (items.length > 0 && last) {
        items[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < items.length && less(l, m)) m = l;
          if (r < items.length && less(r, m)) m = r;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      return top;
    },
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

function eventTime(event: VigilEvent): number {
  const t = Date.parse(event.occurred);
  return Number.isNaN(t) ? Date.parse(event.received) : t;
}

/**
 * How far past the last event the clock runs by default: a proactive trigger's `within` (the
 * last expectation falls due), a deadline's next deadline + grace (the window holding the last
 * event closes); reactive, compound and sequence triggers have no timers.
 */
function defaultEndAfter(program: TriggerProgram, last: number): number {
  const t = program.automation.trigger;
  if (t.type === 'event' && t.posture === 'proactive') return last + durationMs(t.within ?? '0s');
  if (t.type === 'deadline') return program.dueAt(program.initialState(last, null)) ?? last;
  return last;
}

export function startDryRun(automation: Automation, options: DryRunOptions): DryRun {
  const allowedLatenessMs = options.allowedLatenessMs ?? defaultAllowedLatenessMs;
  const maxExplanations = options.maxExplanations ?? 1_000;
  const maxListedFirings = options.maxListedFirings ?? 1_000;
  const maxTimerSteps = options.maxTimerSteps ?? 100_000;
  const program = compileTriggerProgram(automation, 0n, { allowedLatenessMs });
  const snapshot = buildCatalogSnapshot([program]);
  const explainEvent = explainerFor(program);

  const states = new Map<string, KeyState>();
  const heap = dueHeap();
  const reportFrom = options.reportFrom ?? -Infinity;
  const firings: DryRunFiring[] = [];
  /** Reported firings that may still resolve, by state key and firing number → index in `firings` (-1: not listed). */
  const open = new Map<string, number>();
  const explanations: DryRunExplanation[] = [];
  let clock = options.start;
  let fired = 0;
  let resolved = 0;
  let events = 0;
  let matched = 0;
  let duplicates = 0;
  let late = 0;
  let steps = 0;
  let lastEventTime: number | null = null;

  const schedule = (entry: KeyState): void => {
    const due = program.dueAt(entry.state);
    if (due !== null) heap.push({ at: due, key: entry.stateKey });
  };

  const record = (entry: KeyState, effects: readonly WindowEffect[], warmUp: boolean): void => {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'fire': {
          if (effect.triggeredAt < reportFrom) break;
          fired++;
          const listed = firings.length < maxListedFirings;
          if (effect.resolvable) open.set(`${entry.stateKey}\u0000${effect.seq}`, listed ? firings.length : -1);
          if (!listed) break;
          firings.push({
            state: 'triggered',
            at: iso(effect.triggeredAt),
            triggered_at: iso(effect.triggeredAt),
            ...(effect.deadline !== undefined ? { deadline: iso(effect.deadline) } : {}),
            for_each: entry.forEach,
            window: { start: iso(effect.windowStart), end: iso(effect.windowEnd) },
            count: effect.count,
            event_ids: effect.events.map((e) => e.id),
          });
          break;
        }
        case 'resolve': {
          const key = `${entry.stateKey}\u0000${effect.firing.seq}`;
          const index = open.get(key);
          if (index === undefined) break; // fired before the reported range
          resolved++;
          open.delete(key);
          if (index >= 0) firings[index] = { ...firings[index]!, state: 'resolved', resolved_at: iso(effect.resolvedAt), resolved_by: effect.event.id };
          break;
        }
        case 'late':
          if (!warmUp) late++;
          break;
        case 'duplicate':
          if (!warmUp) duplicates++;
          break;
      }
    }
  };

  /** Fires every state due at or before `until`, each at its due time. */
  const fireDue = (until: number): void => {
    for (let next = heap.peek(); next !== undefined && next.at <= until; next = heap.peek()) {
      heap.pop();
      const entry = states.get(next.key);
      if (!entry || program.dueAt(entry.state) !== next.at) continue; // stale
      if (++steps > maxTimerSteps) {
        throw new DryRunLimitError(`the run needs more than ${maxTimerSteps} timer steps (deadlines or expectations falling due); test a shorter range`);
      }
      record(entry, program.onTimer(entry.state, next.at), false);
      const due = program.dueAt(entry.state);
      // A state whose due time did not move would be popped forever.
      if (due !== null && due !== next.at) heap.push({ at: due, key: entry.stateKey });
    }
  };

  if (program.scheduledFromStart) {
    const entry: KeyState = { stateKey: '', forEach: {}, state: program.initialState(clock, null) };
    states.set('', entry);
    schedule(entry);
  }

  return {
    add(event) {
      const t = eventTime(event);
      const warmUp = t < reportFrom;
      if (!warmUp) events++;
      if (!warmUp && explanations.length < maxExplanations) {
        const explanation = explainEvent(event);
        explanations.push({ event_id: event.id, event: event.id, matched: explanation.matched, clauses: explanation.clauses });
      }
      if (!Number.isNaN(t)) {
        if (t > clock) clock = t;
        if (lastEventTime === null || t > lastEventTime) lastEventTime = t;
      }
      fireDue(clock);
      for (const { route } of snapshot.route(event)) {
        if (!warmUp) matched++;
        let entry = states.get(route.stateKey);
        const created = !entry;
        if (!entry) {
          entry = { stateKey: route.stateKey, forEach: route.forEach, state: program.initialState(clock, Number.isNaN(t) ? null : t) };
          states.set(route.stateKey, entry);
        }
        const before = program.dueAt(entry.state);
        record(entry, program.onEvent(entry.state, event, route, clock), warmUp);
        // Heap entries of an earlier due time go stale; a due time already in the heap needs no second entry.
        if (created || program.dueAt(entry.state) !== before) schedule(entry);
      }
    },
    defaultEnd() {
      return defaultEndAfter(program, lastEventTime ?? clock);
    },
    finish(end) {
      if (end > clock) {
        fireDue(end);
        clock = end;
      }
      return {
        fired,
        resolved,
        firings,
        explanations,
        events,
        matched,
        duplicates,
        late,
        clock: { start: iso(options.start), end: iso(clock), ...(options.reportFrom !== undefined ? { reported_from: iso(options.reportFrom) } : {}) },
        ...(fired > firings.length ? { firings_not_listed: fired - firings.length } : {}),
        ...(events > explanations.length ? { explanations_not_listed: events - explanations.length } : {}),
      };
    },
  };
}

/** An event list in replay order: oldest first by `occurred` (ties keep the list's order); and the clock's start, the first event's time. */
export function replayOrder(events: readonly VigilEvent[]): { events: VigilEvent[]; start: number | null } {
  const ordered = events.map((event, index) => ({ event, index, t: eventTime(event) })).sort((a, b) => a.t - b.t || a.index - b.index);
  return { events: ordered.map((e) => e.event), start: ordered.find((e) => !Number.isNaN(e.t))?.t ?? null };
}

/**
 * Where a replay of the stored history from `since` starts so that the windows hold at `since`
 * what a running evaluator's would: a window's length earlier (reactive and proactive `within`;
 * compound and sequence `within` plus their longest child window), or, for a deadline, when the
 * window of its first deadline after `since` opened. Firings before `since` are then not reported.
 */
export function historyReplayStart(automation: Automation, since: number): number {
  const t = automation.trigger;
  const ms = (within: string | undefined): number => (within === undefined ? 0 : durationMs(within));
  switch (t.type) {
    case 'event':
      return since - ms(t.within);
    case 'compound':
    case 'sequence':
      return since - ms(t.within) - Math.max(0, ...t.triggers.map((child) => ms(child.within)));
    case 'deadline': {
      const schedule = deadlineSchedule(t.by, t.timezone, t.opens === undefined ? undefined : (parseDuration(t.opens) ?? t.opens));
      const first = schedule.nextDeadline(since);
      return first === null ? since : Math.min(since, schedule.opensFor(first));
    }
  }
}

/** A dry run over an event list: replayed in `replayOrder`, the clock run to `end` or the default end. */
export function dryRunEvents(automation: Automation, events: readonly VigilEvent[], options: Omit<DryRunOptions, 'start'> & { end?: number } = {}): DryRunResult {
  const ordered = replayOrder(events);
  const run = startDryRun(automation, { ...options, start: ordered.start ?? Date.now() });
  for (const event of ordered.events) run.add(event);
  return run.finish(options.end ?? run.defaultEnd());
}

/**
 * Event-name globs a stored-history query can narrow to (any event the trigger can match has a
 * name matching one of them); null when the trigger may match any name.
 */
export function candidateEventNames(automation: Automation): string[] | null {
  const patterns = compileTriggerProgram(automation, 0n, { allowedLatenessMs: 0 }).namePatterns;
  if (patterns.length === 0 || patterns.some((p) => /^\*+$/.test(p))) return null;
  return [...new Set(patterns)];
}
