import type { Sql } from '../platform/ports/database.ts';
import type { AutomationStatus, KeyState, KeyStatus } from '../schemas/api-resources.ts';
import type { Automation } from '../schemas/automation.ts';
import { durationMs } from '../schemas/durations.ts';
import { deadlineSchedule, type DeadlineState } from './windows/deadline-window.ts';
import type { ExpectationWindow, ProactiveState } from './windows/proactive-window.ts';
import type { ReactiveState } from './windows/reactive-window.ts';
import type { WindowEntry } from './windows/window-types.ts';

/*
 * What every automation is doing right now, per window key: the read model of the console's Now
 * page (GET /api/trigger-status). It reads the tables the trigger evaluator owns (automations,
 * trigger_state, firings) and interprets each key's window state, so that no other module needs
 * to know the state's shape.
 *
 *   firing    an unresolved firing (since = triggered_at)
 *   waiting   a window is open, not yet satisfied, and falls due at `due_at`
 *   resolved  the latest firing resolved within the last hour (since = resolved_at)
 *   ok        nothing open: satisfied, counting below threshold, or no window yet
 *   paused    the automation is disabled
 *
 * Deadline and proactive automations also get `history`: one letter per window for the last 30
 * windows, oldest first: `m` met, `M` missed (still firing), `L` missed and recovered late,
 * `-` before the automation existed. Deadline windows are the `by` schedule's deadlines;
 * proactive windows are consecutive spans of `within` ending now.
 */

export const historyLength = 30;
const recentlyResolvedMs = 60 * 60_000;

interface AutomationRow {
  readonly name: string;
  readonly definition: Automation;
  readonly enabled: boolean;
  readonly created_at: Date;
}
interface StateRow {
  readonly automation_name: string;
  readonly state_key: string;
  readonly for_each: Record<string, string>;
  readonly summary: StateSummary;
}
interface FiringRow {
  readonly id: string;
  readonly automation_name: string;
  readonly state_key: string;
  readonly for_each: Record<string, string>;
  readonly status: 'triggered' | 'resolved';
  readonly triggered_at: Date;
  readonly resolved_at: Date | null;
  readonly window_end: Date;
  readonly deadline: Date | null;
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());


/**
 * What this view needs of one key's window state, picked out by PostgreSQL: the state itself can
 * be large (reported events, the ids a reactive window has seen) and only a few fields matter.
 */
interface StateSummary {
  /** Deadline: the current window. */
  readonly open: number | null;
  readonly deadline: number | null;
  readonly watermark: number | null;
  /** Deadline and reactive: times of the events the window holds. */
  readonly entry_times: readonly number[] | null;
  /** Proactive: the open expectation window. */
  readonly window: { readonly due: number; readonly ids: number | null; readonly fired: boolean; readonly last_event: string | null } | null;
}

/** The state fields the SQL below reads, named through the window types so that a rename fails to compile here. */
export const summarizedFields = {
  state: ['open', 'deadline', 'watermark', 'entries', 'window'] satisfies Array<keyof DeadlineState | keyof ProactiveState | keyof ReactiveState>,
  window: ['due', 'ids', 'fired', 'events'] satisfies Array<keyof ExpectationWindow>,
  entry: ['t'] satisfies Array<keyof WindowEntry>,
};

const stateSummary = `jsonb_build_object(
  'open', state->'open', 'deadline', state->'deadline', 'watermark', state->'watermark',
  'entry_times', (SELECT jsonb_agg(e->'t') FROM jsonb_array_elements(CASE jsonb_typeof(state->'entries') WHEN 'array' THEN state->'entries' ELSE '[]'::jsonb END) AS e),
  'window', CASE jsonb_typeof(state->'window') WHEN 'object' THEN jsonb_build_object(
    'due', state->'window'->'due',
    'ids', jsonb_array_length(CASE jsonb_typeof(state->'window'->'ids') WHEN 'array' THEN state->'window'->'ids' ELSE '[]'::jsonb END),
    'fired', jsonb_typeof(state->'window'->'fired') = 'object',
    'last_event', (SELECT max(ev->>'occurred') FROM jsonb_array_elements(CASE jsonb_typeof(state->'window'->'events') WHEN 'array' THEN state->'window'->'events' ELSE '[]'::jsonb END) AS ev)
  ) END
)`;

function latest(times: readonly number[] | null): number | null {
  return times && times.length > 0 ? Math.max(...times) : null;
}

/** The open window of one key's state: what it needs, what it has, when it falls due. */
function windowOf(automation: Automation, state: StateSummary, now: number): { due: number | null; count: number | null; threshold: number | null; lastEvent: number | null } {
  const trigger = automation.trigger;
  const times = state.entry_times ?? [];
  if (trigger.type === 'deadline') {
    const open = state.open ?? now;
    const end = (state.deadline ?? Infinity) + durationMs(trigger.grace);
    const count = times.filter((t) => t >= open && t < end).length;
    const waiting = state.deadline !== null && now >= open && count < trigger.threshold;
    return { due: waiting ? state.deadline : null, count, threshold: trigger.threshold, lastEvent: latest(times) };
  }
  if (trigger.type === 'event' && trigger.posture === 'proactive') {
    const window = state.window;
    const count = window ? (window.ids ?? 0) : null;
    const waiting = window !== null && !window.fired && (count ?? 0) < trigger.threshold;
    const lastEvent = window?.last_event ? Date.parse(window.last_event) : state.watermark;
    return { due: waiting ? window.due : null, count, threshold: trigger.threshold, lastEvent };
  }
  if (trigger.type === 'event') {
    return { due: null, count: times.length, threshold: trigger.threshold, lastEvent: latest(times) ?? state.watermark };
  }
  return { due: null, count: null, threshold: null, lastEvent: null };
}

/**
 * The last 30 deadlines of a schedule, kept until its next deadline passes: walking a time-zone
 * cron backwards costs milliseconds, and the Now page asks every few seconds.
 */
const deadlineCache = new Map<string, { readonly deadlines: number[]; readonly until: number }>();
const deadlineCacheSize = 10_000;

function recentDeadlines(by: string, timezone: string, now: number): number[] {
  const key = `${by}\u0000${timezone}`;
  const cached = deadlineCache.get(key);
  if (cached && now < cached.until && now >= (cached.deadlines.at(-1) ?? -Infinity)) return cached.deadlines;
  const schedule = deadlineSchedule(by, timezone, undefined);
  const deadlines = schedule.previousDeadlines(historyLength, now);
  if (deadlineCache.size >= deadlineCacheSize) deadlineCache.clear();
  deadlineCache.set(key, { deadlines, until: schedule.nextDeadline(now) ?? Infinity });
  return deadlines;
}

/** The last 30 windows' ends (oldest first), or null for triggers without windows of their own. */
function historyWindows(automation: Automation, now: number): number[] | null {
  const trigger = automation.trigger;
  if (trigger.type === 'deadline') return recentDeadlines(trigger.by, trigger.timezone, now);
  if (trigger.type === 'event' && trigger.posture === 'proactive' && trigger.within) {
    const span = durationMs(trigger.within);
    return Array.from({ length: historyLength }, (_, i) => now - (historyLength - 1 - i) * span);
  }
  return null;
}

function historyOf(ends: readonly number[], created: number, firings: readonly FiringRow[]): string {
  let text = '';
  let previous = -Infinity;
  for (const end of ends) {
    // a window [previous end, end): missed when a firing's window closed in it
    const missed = firings.filter((f) => {
      const closed = (f.deadline ?? f.window_end).getTime();
      return closed > previous && closed <= end;
    });
    if (missed.length > 0) text += missed.every((f) => f.status === 'resolved') ? 'L' : 'M';
    else text += end < created ? '-' : 'm';
    previous = end;
  }
  return text;
}

function pickStatus(enabled: boolean, open: FiringRow | undefined, latest: FiringRow | undefined, due: number | null, now: number): { status: KeyStatus; since: number | null } {
  if (!enabled) return { status: 'paused', since: null };
  if (open) return { status: 'firing', since: open.triggered_at.getTime() };
  if (due !== null) return { status: 'waiting', since: null };
  if (latest?.resolved_at && now - latest.resolved_at.getTime() < recentlyResolvedMs) return { status: 'resolved', since: latest.resolved_at.getTime() };
  return { status: 'ok', since: null };
}

/** Every automation (by name) with the state of each of its window keys. */
export async function readTriggerStatus(db: Sql, now = Date.now()): Promise<AutomationStatus[]> {
  const [automations, states] = await Promise.all([
    db.query<AutomationRow>('SELECT name, definition, enabled, created_at FROM automations ORDER BY name'),
    db.query<StateRow>(`SELECT automation_name, state_key, for_each, ${stateSummary} AS summary FROM trigger_state`),
  ]);
  // Firings that matter: open ones, and those of the history span (30 windows back; a week at least).
  const ends = new Map(automations.map((a) => [a.name, historyWindows(a.definition, now)]));
  let oldest = now - 7 * 86_400_000;
  for (const windows of ends.values()) if (windows && windows.length > 0) oldest = Math.min(oldest, 2 * windows[0]! - (windows[1] ?? windows[0]!));
  const firings = await db.query<FiringRow>(
    `SELECT id, automation_name, state_key, for_each, status, triggered_at, resolved_at, window_end, deadline
       FROM firings WHERE status = 'triggered' OR triggered_at >= $1 ORDER BY triggered_at`,
    [new Date(Math.max(0, oldest))],
  );
  // automation → state key → its firings, oldest first
  const firingsByKey = new Map<string, Map<string, FiringRow[]>>();
  for (const firing of firings) {
    let keys = firingsByKey.get(firing.automation_name);
    if (!keys) firingsByKey.set(firing.automation_name, (keys = new Map<string, FiringRow[]>()));
    const list = keys.get(firing.state_key);
    if (list) list.push(firing);
    else keys.set(firing.state_key, [firing]);
  }
  const statesByAutomation = new Map<string, StateRow[]>();
  for (const row of states) {
    const list = statesByAutomation.get(row.automation_name);
    if (list) list.push(row);
    else statesByAutomation.set(row.automation_name, [row]);
  }

  return automations.map((row) => {
    const automation = row.definition;
    const windows = ends.get(row.name) ?? null;
    const keyed = new Map<string, { forEach: Record<string, string>; state: StateSummary | null }>();
    for (const s of statesByAutomation.get(row.name) ?? []) keyed.set(s.state_key, { forEach: s.for_each, state: s.summary });
    const automationFirings = firingsByKey.get(row.name);
    // keys known only from their firings (a state reset by a changed trigger) still show them
    for (const [stateKey, list] of automationFirings ?? []) {
      if (!keyed.has(stateKey)) keyed.set(stateKey, { forEach: list[0]!.for_each, state: null });
    }
    if (keyed.size === 0) keyed.set('', { forEach: {}, state: null });
    const keys: KeyState[] = [];
    for (const [stateKey, { forEach, state }] of keyed) {
      const keyFirings = automationFirings?.get(stateKey) ?? [];
      const open = keyFirings.findLast((f) => f.status === 'triggered');
      const latest = keyFirings.at(-1);
      const window = state ? windowOf(automation, state, now) : { due: null, count: null, threshold: null, lastEvent: null };
      const { status, since } = pickStatus(row.enabled, open, latest, window.due, now);
      keys.push({
        key: stateKey,
        for_each: forEach,
        status,
        since: iso(since),
        due_at: iso(window.due),
        count: window.count,
        threshold: window.threshold,
        last_event_at: iso(window.lastEvent),
        firing_id: open?.id ?? null,
        history: windows ? historyOf(windows, row.created_at.getTime(), keyFirings) : null,
      });
    }
    return {
      name: row.name,
      description: automation.description ?? null,
      enabled: row.enabled,
      tags: automation.tags ?? [],
      trigger_type: automation.trigger.type === 'event' ? `event/${automation.trigger.posture}` : automation.trigger.type,
      keys,
    };
  });
}
