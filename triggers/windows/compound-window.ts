import type { VigilEvent } from '../../schemas/event.ts';
import { initialReactiveState, reactiveAdmit, type ReactiveConfig, type ReactiveState } from './reactive-window.ts';
import { maxReportedEvents, type FireEffect, type WindowEffect } from './window-types.ts';

/**
 * Compound and sequence triggers, per correlation key (the parent's `for_each`): each child is
 * a reactive trigger of its own (threshold, window); a child firing is a step.
 * - compound: fires when `require` distinct children (all, any = 1, or N) have fired with their
 *   firings' event times within `within` of each other; the steps are then consumed.
 * - sequence: fires when children 1…n fire in that order (event time) within `within` of the
 *   first step; a first child restarts the sequence, an out-of-order step is ignored.
 */
export interface CompoundConfig {
  readonly mode: 'compound' | 'sequence';
  /** compound: how many distinct children must fire. sequence: all of them. */
  readonly required: number;
  readonly withinMs: number;
  readonly children: readonly ReactiveConfig[];
}

export interface ChildStep {
  readonly t: number;
  readonly start: number;
  readonly events: VigilEvent[];
}

export interface CompoundState {
  children: ReactiveState[];
  /** compound: latest unconsumed step per child. sequence: steps so far, in order. */
  steps: (ChildStep | null)[];
  seq: number;
}

export function initialCompoundState(config: CompoundConfig): CompoundState {
  return {
    children: config.children.map(() => initialReactiveState()),
    steps: config.mode === 'compound' ? config.children.map(() => null) : [],
    seq: 0,
  };
}

/** An event that matched the children `childIndexes` (ascending). */
export function compoundOnEvent(
  state: CompoundState,
  event: VigilEvent,
  t: number,
  childIndexes: readonly number[],
  now: number,
  config: CompoundConfig,
): WindowEffect[] {
  const effects: WindowEffect[] = [];
  for (const i of childIndexes) {
    const effect = reactiveAdmit(state.children[i]!, event, t, config.children[i]!, now);
    if (!effect) continue;
    if (effect.kind !== 'fire') {
      // Report lateness once per event, not once per child.
      if (!effects.some((e) => e.kind === effect.kind)) effects.push(effect);
      continue;
    }
    const step: ChildStep = { t: effect.windowEnd, start: effect.windowStart, events: [...effect.events] };
    const fired = config.mode === 'compound' ? compoundStep(state, i, step, now, event, config) : sequenceStep(state, i, step, now, event, config);
    if (fired) effects.push(fired);
  }
  return effects;
}

function fire(state: CompoundState, steps: readonly ChildStep[], now: number, event: VigilEvent): FireEffect {
  state.seq += 1;
  const events = steps.flatMap((s) => s.events).sort((a, b) => Date.parse(a.occurred) - Date.parse(b.occurred));
  return {
    kind: 'fire',
    seq: state.seq,
    triggeredAt: now,
    windowStart: Math.min(...steps.map((s) => s.start)),
    windowEnd: Math.max(...steps.map((s) => s.t)),
    count: steps.length,
    events: events.slice(-maxReportedEvents),
    event,
    resolvable: false,
  };
}

function compoundStep(state: CompoundState, child: number, step: ChildStep, now: number, event: VigilEvent, config: CompoundConfig): FireEffect | null {
  const previous = state.steps[child];
  state.steps[child] = previous && previous.t > step.t ? previous : step;
  // Steps too far from this one can no longer pair with it.
  const live = state.steps.map((s) => (s && Math.abs(s.t - step.t) <= config.withinMs ? s : null));
  const present = live.filter((s): s is ChildStep => s !== null);
  if (present.length < config.required) return null;
  state.steps = state.steps.map(() => null);
  return fire(state, present, now, event);
}

function sequenceStep(state: CompoundState, child: number, step: ChildStep, now: number, event: VigilEvent, config: CompoundConfig): FireEffect | null {
  let steps = state.steps as ChildStep[];
  if (steps.length > 0 && step.t - steps[0]!.t > config.withinMs) steps = [];
  if (child === steps.length && (steps.length === 0 || step.t >= steps[steps.length - 1]!.t)) steps = [...steps, step];
  else if (child === 0) steps = [step];
  state.steps = steps;
  if (steps.length < config.children.length) return null;
  state.steps = [];
  return fire(state, steps, now, event);
}
