import type { Automation } from '../schemas/automation.ts';
import type { VigilEvent } from '../schemas/event.ts';
import type { ChildTrigger, Trigger } from '../schemas/trigger.ts';
import { durationMs, parseDuration } from '../schemas/durations.ts';
import { compileEventMatcher, matchEvent, type CompiledEventMatcher } from './matching/event-matcher.ts';
import { compileForEach, type ForEachExtractor } from './matching/for-each-key.ts';
import type { WhereData } from './matching/where-clause.ts';
import { compoundOnEvent, initialCompoundState, type CompoundConfig, type CompoundState } from './windows/compound-window.ts';
import { deadlineDueAt, deadlineOnEvent, deadlineOnTimer, deadlineSchedule, initialDeadlineState, type DeadlineConfig, type DeadlineState } from './windows/deadline-window.ts';
import { initialProactiveState, proactiveDueAt, proactiveOnEvent, proactiveOnTimer, type ProactiveConfig, type ProactiveState } from './windows/proactive-window.ts';
import { initialReactiveState, reactiveAdmit, type ReactiveConfig, type ReactiveState } from './windows/reactive-window.ts';
import type { WindowEffect } from './windows/window-types.ts';

/**
 * An automation compiled for evaluation: how events route to its state keys, and the pure
 * state machine of its trigger kind. The evaluator and the deadline timer drive it; the state
 * is JSON (stored in `trigger_state`), opaque outside this module.
 */
export type TriggerState = ReactiveState | ProactiveState | DeadlineState | CompoundState;

export interface Route {
  readonly stateKey: string;
  readonly forEach: Readonly<Record<string, string>>;
  readonly expect: boolean;
  readonly after: boolean;
  /** compound and sequence: the children the event matched. */
  readonly children: readonly number[];
}

export interface TriggerProgram {
  readonly automation: Automation;
  readonly version: bigint;
  /** Event-name globs (positive ones) the trigger listens to, for the match index. */
  readonly namePatterns: readonly string[];
  /** Every matcher of the trigger (one, or one per child). */
  readonly matchers: readonly CompiledEventMatcher[];
  /** Deadline triggers and heartbeats without `for_each` exist before any event: the timer creates their state. */
  readonly scheduledFromStart: boolean;
  route(event: VigilEvent, data: () => WhereData): Route | null;
  initialState(now: number, firstEventTime: number | null): TriggerState;
  onEvent(state: TriggerState, event: VigilEvent, route: Route, now: number): WindowEffect[];
  onTimer(state: TriggerState, now: number): WindowEffect[];
  dueAt(state: TriggerState): number | null;
}

export interface ProgramOptions {
  readonly allowedLatenessMs: number;
}

function eventTime(event: VigilEvent): number {
  const t = Date.parse(event.occurred);
  return Number.isNaN(t) ? Date.parse(event.received) : t;
}

function reactiveConfig(t: { threshold: number; within?: string | undefined }, options: ProgramOptions): ReactiveConfig {
  return { threshold: t.threshold, withinMs: t.within ? durationMs(t.within) : 0, allowedLatenessMs: options.allowedLatenessMs };
}

function positives(patterns: readonly string[] | undefined): string[] {
  return (patterns ?? []).filter((p) => !p.startsWith('!'));
}

function namePatternsOf(matcherSpecs: readonly { expect: readonly string[]; after?: readonly string[] | undefined }[]): string[] {
  const all = matcherSpecs.flatMap((s) => [...positives(s.expect), ...positives(s.after)]);
  // A list of only negations means "anything but": index it as "*".
  const hasNegOnly = matcherSpecs.some((s) => positives(s.expect).length === 0 || (s.after !== undefined && positives(s.after).length === 0));
  return hasNegOnly ? [...all, '*'] : all;
}

export function compileTriggerProgram(automation: Automation, version: bigint, options: ProgramOptions): TriggerProgram {
  const trigger: Trigger = automation.trigger;
  switch (trigger.type) {
    case 'event':
      return trigger.posture === 'reactive' ? reactiveProgram(automation, version, options) : proactiveProgram(automation, version, options);
    case 'deadline':
      return deadlineProgram(automation, version);
    case 'compound':
    case 'sequence':
      return compoundProgram(automation, version, options);
  }
}

/** The state machine of one trigger kind (called only for events that matched, and by the timer). */
interface KindOps {
  readonly scheduledFromStart: boolean;
  initialState(now: number, firstEventTime: number | null): TriggerState;
  onEvent(state: TriggerState, event: VigilEvent, route: Route, now: number): WindowEffect[];
  onTimer(state: TriggerState, now: number): WindowEffect[];
  dueAt(state: TriggerState): number | null;
}

const noChildren: readonly number[] = Object.freeze([]);

/**
 * One class for every trigger kind, so that the catalog's `program.route(…)` call site sees a
 * single shape and a single function whatever the automation: routing is an interpreter over
 * the compiled matchers (data), not a closure per automation. Kind-specific behaviour sits
 * behind `ops`, which is only reached for events that matched.
 */
class Program implements TriggerProgram {
  readonly automation: Automation;
  readonly version: bigint;
  readonly namePatterns: readonly string[];
  readonly matchers: readonly CompiledEventMatcher[];
  readonly scheduledFromStart: boolean;
  /** compound and sequence: a route names the children the event matched, and needs an `expect` match. */
  readonly #compound: boolean;
  readonly #forEach: ForEachExtractor;
  readonly #ops: KindOps;

  constructor(automation: Automation, version: bigint, matchers: CompiledEventMatcher[], forEach: ForEachExtractor, compound: boolean, ops: KindOps) {
    this.automation = automation;
    this.version = version;
    this.matchers = matchers;
    this.namePatterns = namePatternsOf(matchers.map((m) => m.spec));
    this.scheduledFromStart = ops.scheduledFromStart;
    this.#compound = compound;
    this.#forEach = forEach;
    this.#ops = ops;
  }

  route(event: VigilEvent, data: () => WhereData): Route | null {
    if (!this.#compound) {
      const roles = matchEvent(this.matchers[0]!, event, data);
      if (roles === null) return null;
      const key = this.#forEach(event);
      if (key === null) return null;
      return { stateKey: key.key, forEach: key.values, expect: roles.expect, after: roles.after, children: noChildren };
    }
    let hit: number[] | null = null;
    const matchers = this.matchers;
    for (let i = 0; i < matchers.length; i++) {
      if (matchEvent(matchers[i]!, event, data)?.expect) (hit ??= []).push(i);
    }
    if (hit === null) return null;
    const key = this.#forEach(event);
    if (key === null) return null;
    return { stateKey: key.key, forEach: key.values, expect: true, after: false, children: hit };
  }

  initialState(now: number, firstEventTime: number | null): TriggerState {
    return this.#ops.initialState(now, firstEventTime);
  }

  onEvent(state: TriggerState, event: VigilEvent, route: Route, now: number): WindowEffect[] {
    return this.#ops.onEvent(state, event, route, now);
  }

  onTimer(state: TriggerState, now: number): WindowEffect[] {
    return this.#ops.onTimer(state, now);
  }

  dueAt(state: TriggerState): number | null {
    return this.#ops.dueAt(state);
  }
}

function reactiveProgram(automation: Automation, version: bigint, options: ProgramOptions): TriggerProgram {
  const t = automation.trigger as Extract<Trigger, { type: 'event' }>;
  const config = reactiveConfig(t, options);
  return new Program(automation, version, [compileEventMatcher(t)], compileForEach(t.for_each), false, {
    scheduledFromStart: false,
    initialState: () => initialReactiveState(),
    onEvent(state, event, _route, now) {
      const effect = reactiveAdmit(state as ReactiveState, event, eventTime(event), config, now);
      return effect ? [effect] : [];
    },
    onTimer: () => [],
    dueAt: () => null,
  });
}

function proactiveProgram(automation: Automation, version: bigint, options: ProgramOptions): TriggerProgram {
  const t = automation.trigger as Extract<Trigger, { type: 'event' }>;
  const config: ProactiveConfig = {
    threshold: t.threshold,
    withinMs: durationMs(t.within ?? '0s'),
    heartbeat: t.after === undefined,
    allowedLatenessMs: options.allowedLatenessMs,
  };
  return new Program(automation, version, [compileEventMatcher(t)], compileForEach(t.for_each), false, {
    scheduledFromStart: config.heartbeat && !t.for_each,
    initialState: (now, firstEventTime) => initialProactiveState(config, config.heartbeat ? (firstEventTime ?? now) : null),
    onEvent: (state, event, route, now) => proactiveOnEvent(state as ProactiveState, event, eventTime(event), route, now, config),
    onTimer: (state, now) => proactiveOnTimer(state as ProactiveState, now, config),
    dueAt: (state) => proactiveDueAt(state as ProactiveState),
  });
}

function deadlineProgram(automation: Automation, version: bigint): TriggerProgram {
  const t = automation.trigger as Extract<Trigger, { type: 'deadline' }>;
  const opens = t.opens === undefined ? undefined : (parseDuration(t.opens) ?? t.opens);
  const config: DeadlineConfig = { threshold: t.threshold, graceMs: durationMs(t.grace), schedule: deadlineSchedule(t.by, t.timezone, opens) };
  return new Program(automation, version, [compileEventMatcher(t)], compileForEach(undefined), false, {
    scheduledFromStart: true,
    initialState: (now) => initialDeadlineState(now, config),
    onEvent: (state, event, _route, now) => deadlineOnEvent(state as DeadlineState, event, eventTime(event), now, config),
    onTimer: (state, now) => deadlineOnTimer(state as DeadlineState, now, config),
    dueAt: (state) => deadlineDueAt(state as DeadlineState, config),
  });
}

function compoundProgram(automation: Automation, version: bigint, options: ProgramOptions): TriggerProgram {
  const t = automation.trigger as Extract<Trigger, { type: 'compound' | 'sequence' }>;
  const children: readonly ChildTrigger[] = t.triggers;
  const required = t.type === 'sequence' ? children.length : t.require === 'all' ? children.length : t.require === 'any' ? 1 : t.require;
  const config: CompoundConfig = {
    mode: t.type,
    required,
    withinMs: durationMs(t.within),
    children: children.map((c) => reactiveConfig(c, options)),
  };
  return new Program(
    automation,
    version,
    children.map((c) => compileEventMatcher(c)),
    compileForEach(t.for_each),
    true,
    {
      scheduledFromStart: false,
      initialState: () => initialCompoundState(config),
      onEvent: (state, event, route, now) => compoundOnEvent(state as CompoundState, event, eventTime(event), route.children, now, config),
      onTimer: () => [],
      dueAt: () => null,
    },
  );
}
