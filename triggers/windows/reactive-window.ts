import type { VigilEvent } from '../../schemas/event.ts';
import { insertionIndex, maxReportedEvents, reportedEvents, type FireEffect, type WindowEffect, type WindowEntry } from './window-types.ts';

/**
 * Reactive counting: fire when `threshold` events fall within `within` of each other (sliding
 * window in event time). Counted events are consumed by the firing, so a burst of 3×N fires 3
 * times. Pure and synchronous: the caller loads and stores the state.
 *
 * Rules, in order, for each event:
 * 1. an id already seen by this key is a duplicate and changes nothing;
 * 2. an event more than `allowedLatenessMs` behind the key's watermark (latest event time
 *    admitted) is late: reported, not counted;
 * 3. otherwise it joins the unconsumed events (kept sorted by time, then id); if some run of
 *    `threshold` consecutive unconsumed events that includes it spans at most `within`, the
 *    earliest such run is consumed and the trigger fires.
 * Events older than watermark − lateness − within can never count again and are pruned.
 */
export interface ReactiveConfig {
  readonly threshold: number;
  readonly withinMs: number;
  readonly allowedLatenessMs: number;
}

export interface ReactiveState {
  watermark: number | null;
  /** Unconsumed events, sorted by (t, id). */
  entries: WindowEntry[];
  /** Ids admitted (counted or consumed) whose time is not yet below the prune horizon → their time. */
  seen: Record<string, number>;
  seenCount: number;
  /** seenCount at which the next sweep of `seen` runs. */
  sweepAt: number;
  seq: number;
}

export function initialReactiveState(): ReactiveState {
  return { watermark: null, entries: [], seen: {}, seenCount: 0, sweepAt: 64, seq: 0 };
}

/** Keep full events only on the most recent entries: a firing reports at most 20 anyway. */
const keptEvents = maxReportedEvents * 2;

export function reactiveAdmit(state: ReactiveState, event: VigilEvent, t: number, config: ReactiveConfig, firedAt: number): WindowEffect | null {
  const id = event.id;
  // Keys are prefixed so that ids such as "__proto__" stay ordinary keys.
  const seenKey = `#${id}`;
  if (Object.hasOwn(state.seen, seenKey)) return { kind: 'duplicate', event };
  if (state.watermark !== null && t < state.watermark - config.allowedLatenessMs) {
    return { kind: 'late', event, behindMs: state.watermark - t };
  }
  state.seen[seenKey] = t;
  state.seenCount += 1;
  if (state.watermark === null || t > state.watermark) state.watermark = t;

  const entries = state.entries;
  const k = insertionIndex(entries, t, id);
  entries.splice(k, 0, { id, t, event });
  if (entries.length > keptEvents) delete entries[entries.length - keptEvents - 1]!.event;

  let effect: FireEffect | null = null;
  const n = config.threshold;
  for (let i = Math.max(0, k - n + 1); i <= k && i + n - 1 < entries.length; i++) {
    const first = entries[i]!;
    const last = entries[i + n - 1]!;
    if (last.t - first.t <= config.withinMs) {
      const consumed = entries.splice(i, n);
      state.seq += 1;
      effect = {
        kind: 'fire',
        seq: state.seq,
        triggeredAt: firedAt,
        windowStart: first.t,
        windowEnd: last.t,
        count: n,
        events: reportedEvents(consumed),
        event,
        resolvable: false,
      };
      break;
    }
  }
  prune(state, config);
  return effect;
}

function prune(state: ReactiveState, config: ReactiveConfig): void {
  if (state.watermark === null) return;
  const horizon = state.watermark - config.allowedLatenessMs - config.withinMs;
  let drop = 0;
  while (drop < state.entries.length && state.entries[drop]!.t < horizon) drop++;
  if (drop > 0) state.entries.splice(0, drop);
  // Sweep the dedupe ids now and then (amortized): an id below the horizon is late if it comes again.
  if (state.seenCount >= state.sweepAt) {
    const kept: Record<string, number> = {};
    let count = 0;
    for (const [id, time] of Object.entries(state.seen)) {
      if (time >= horizon) {
        kept[id] = time;
        count++;
      }
    }
    state.seen = kept;
    state.seenCount = count;
    state.sweepAt = Math.max(64, count * 2);
  }
}
