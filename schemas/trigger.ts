import { z } from 'zod';
import { Cron } from 'croner';
import { duration, parseDuration } from './durations.ts';
import { eventGlobProblem, labelGlobProblem } from './glob-syntax.ts';
import { whereProblems } from './where-syntax.ts';

/** Limits on trigger definitions: they bound the state one trigger can hold. */
const triggerLimits = {
  maxThreshold: 10_000,
  maxWithinMs: 90 * 86_400_000,
  maxGlobs: 100,
  maxForEachKeys: 5,
  maxChildren: 10,
} as const;

const labelKeyPattern = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
const forEachPattern = /^(resource\.[A-Za-z_][A-Za-z0-9_.:-]*|related\.[A-Za-z0-9_:-]+\.[A-Za-z_][A-Za-z0-9_.:-]*)$/;

const eventGlob = z
  .string()
  .max(256)
  .superRefine((glob, ctx) => {
    const problem = eventGlobProblem(glob);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('Event name glob: "*" matches any characters (dots included); a leading "!" excludes.');

const eventGlobs = z.array(eventGlob).min(1, 'must list at least one event name glob').max(triggerLimits.maxGlobs);

const labelGlob = z.string().superRefine((glob, ctx) => {
  const problem = labelGlobProblem(glob);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const labelMatch = z
  .record(z.string().regex(labelKeyPattern, 'must be a label key'), z.union([labelGlob, z.array(labelGlob).min(1).max(triggerLimits.maxGlobs)]))
  .describe('Resource labels to match: label → glob or list of globs (OR-ed; "!" excludes). All listed labels must match.');

const relatedMatch = z
  .object({ role: z.union([labelGlob, z.array(labelGlob).min(1).max(triggerLimits.maxGlobs)]) })
  .catchall(z.union([labelGlob, z.array(labelGlob).min(1).max(triggerLimits.maxGlobs)]))
  .describe('A related resource to require: its role and labels (globs, as in `match`).');

const where = z
  .unknown()
  .superRefine((logic, ctx) => {
    for (const problem of whereProblems(logic)) {
      ctx.addIssue({ code: 'custom', path: problem.path === '' ? [] : problem.path.split('.'), message: problem.message });
    }
  })
  .describe('A JSON Logic expression over the whole event (e.g. {"var": "payload.rows"}); the event matches when it is truthy.');

const forEach = z
  .array(z.string().regex(forEachPattern, 'must be "resource.<label>" or "related.<role>.<label>"'))
  .min(1)
  .max(triggerLimits.maxForEachKeys)
  .describe('Keys that split the trigger: one window per distinct value, e.g. ["resource.id"].');

const threshold = z.int().min(1, 'must be at least 1').max(triggerLimits.maxThreshold, `must be at most ${triggerLimits.maxThreshold}`);

const matchFields = {
  expect: eventGlobs.describe('Event names (globs) this trigger counts (reactive) or expects (proactive, deadline).'),
  match: labelMatch.optional(),
  match_related: z.union([relatedMatch, z.array(relatedMatch).min(1).max(20)]).optional(),
  where: where.optional(),
};

const eventTrigger = z
  .object({
    type: z.literal('event'),
    posture: z.enum(['reactive', 'proactive']).default('reactive'),
    ...matchFields,
    after: eventGlobs.optional().describe('Proactive only: events that start a `within` window in which the expected events must occur.'),
    for_each: forEach.optional(),
    threshold: threshold.default(1),
    within: duration.optional().describe('Reactive: the sliding window in event time. Proactive: how long to wait for the expected events.'),
  })
  .strict();

/** A child of a compound or sequence trigger: a reactive event trigger correlated by the parent's `for_each`. */
const childTrigger = z
  .object({
    type: z.literal('event'),
    posture: z.literal('reactive').default('reactive'),
    ...matchFields,
    threshold: threshold.default(1),
    within: duration.optional(),
  })
  .strict();

const deadlineTrigger = z
  .object({
    type: z.literal('deadline'),
    ...matchFields,
    threshold: threshold.default(1),
    by: z.string().describe('Cron expression (5 or 6 fields) of the deadline, read in `timezone`, e.g. "0 9 * * 1-5".'),
    timezone: z.string().default('UTC').describe('IANA time zone of the cron expressions, e.g. "Europe/Berlin".'),
    opens: z
      .string()
      .optional()
      .describe('When the window opens: a cron expression (latest occurrence before the deadline) or a duration before the deadline. Default: at the previous deadline.'),
    grace: duration.default('0s').describe('Extra time after the deadline before the trigger fires.'),
  })
  .strict();

const compoundTrigger = z
  .object({
    type: z.literal('compound'),
    require: z.union([z.enum(['all', 'any']), z.int().min(1)]).default('all'),
    triggers: z.array(childTrigger).min(2, 'needs at least 2 child triggers').max(triggerLimits.maxChildren),
    within: duration,
    for_each: forEach.optional(),
  })
  .strict();

const sequenceTrigger = z
  .object({
    type: z.literal('sequence'),
    triggers: z.array(childTrigger).min(2, 'needs at least 2 child triggers').max(triggerLimits.maxChildren),
    within: duration,
    for_each: forEach.optional(),
  })
  .strict();

function validTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

function cronProblem(pattern: string, timezone: string): string | null {
  const fields = pattern.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) return 'must be a cron expression with 5 fields (or 6 with seconds)';
  try {
    const next = new Cron(pattern, { timezone: validTimezone(timezone) ? timezone : 'UTC', paused: true }).nextRun();
    return next ? null : 'never occurs';
  } catch (error) {
    return `is not a valid cron expression: ${(error as Error).message}`;
  }
}

type Issue = { path: (string | number)[]; message: string };

function windowIssues(within: string | undefined, path: (string | number)[], required: string | null): Issue[] {
  if (within === undefined) return required ? [{ path, message: required }] : [];
  const ms = parseDuration(within);
  if (ms === null) return [];
  if (ms <= 0) return [{ path, message: 'must be greater than 0' }];
  if (ms > triggerLimits.maxWithinMs) return [{ path, message: 'must be at most 90d' }];
  return [];
}

function childIssues(child: z.infer<typeof childTrigger>, path: (string | number)[]): Issue[] {
  return windowIssues(child.within, [...path, 'within'], child.threshold > 1 ? 'is required when threshold is more than 1' : null);
}

/** Cross-field checks ("impossible windows"), as issues with paths relative to the trigger. */
export function triggerIssues(trigger: Trigger): Issue[] {
  switch (trigger.type) {
    case 'event': {
      if (trigger.posture === 'proactive') {
        return windowIssues(trigger.within, ['within'], 'is required for proactive triggers (how long to wait)');
      }
      const issues = windowIssues(trigger.within, ['within'], trigger.threshold > 1 ? 'is required when threshold is more than 1' : null);
      if (trigger.after) issues.push({ path: ['after'], message: 'only proactive triggers have `after`; set "posture": "proactive"' });
      return issues;
    }
    case 'deadline': {
      const issues: Issue[] = [];
      if (!validTimezone(trigger.timezone)) issues.push({ path: ['timezone'], message: 'must be an IANA time zone such as "Europe/Berlin"' });
      const byProblem = cronProblem(trigger.by, trigger.timezone);
      if (byProblem) issues.push({ path: ['by'], message: byProblem });
      if (trigger.opens !== undefined) {
        const opensDuration = parseDuration(trigger.opens);
        if (opensDuration === null) {
          const opensProblem = cronProblem(trigger.opens, trigger.timezone);
          if (opensProblem) issues.push({ path: ['opens'], message: `must be a duration (e.g. "9h") or a cron expression; as cron it ${opensProblem}` });
        } else if (opensDuration <= 0) issues.push({ path: ['opens'], message: 'must be greater than 0' });
        else if (opensDuration > triggerLimits.maxWithinMs) issues.push({ path: ['opens'], message: 'must be at most 90d' });
      }
      const grace = parseDuration(trigger.grace) ?? 0;
      if (issues.length === 0 && grace > 0) {
        const shortest = shortestDeadlineWindow(trigger);
        if (shortest !== null && grace >= shortest) {
          issues.push({ path: ['grace'], message: `must be shorter than the window (${Math.round(shortest / 60_000)} minutes at its shortest)` });
        }
      }
      return issues;
    }
    case 'compound': {
      const issues = trigger.triggers.flatMap((child, i) => childIssues(child, ['triggers', i]));
      issues.push(...windowIssues(trigger.within, ['within'], null));
      if (typeof trigger.require === 'number' && trigger.require > trigger.triggers.length) {
        issues.push({ path: ['require'], message: `must be at most the number of child triggers (${trigger.triggers.length})` });
      }
      return issues;
    }
    case 'sequence': {
      const issues = trigger.triggers.flatMap((child, i) => childIssues(child, ['triggers', i]));
      issues.push(...windowIssues(trigger.within, ['within'], null));
      return issues;
    }
  }
}

/** Shortest window (open → deadline) over the next occurrences, for the grace check. */
function shortestDeadlineWindow(trigger: DeadlineTrigger): number | null {
  const by = new Cron(trigger.by, { timezone: trigger.timezone, paused: true });
  const deadlines = by.nextRuns(10);
  const opensMs = trigger.opens === undefined ? null : parseDuration(trigger.opens);
  const opensCron = trigger.opens !== undefined && opensMs === null ? new Cron(trigger.opens, { timezone: trigger.timezone, paused: true }) : null;
  let shortest: number | null = null;
  for (const deadline of deadlines) {
    let open: number | null;
    if (opensMs !== null) open = deadline.getTime() - opensMs;
    else if (opensCron) open = opensCron.previousRuns(1, deadline)[0]?.getTime() ?? null;
    else open = by.previousRuns(1, deadline)[0]?.getTime() ?? null;
    if (open === null) continue;
    const length = deadline.getTime() - open;
    shortest = shortest === null ? length : Math.min(shortest, length);
  }
  return shortest;
}

export const trigger = z.discriminatedUnion('type', [eventTrigger, deadlineTrigger, compoundTrigger, sequenceTrigger]);

export type ChildTrigger = z.infer<typeof childTrigger>;
export type DeadlineTrigger = z.infer<typeof deadlineTrigger>;
export type Trigger = z.infer<typeof trigger>;
export type LabelMatch = z.infer<typeof labelMatch>;
export type RelatedMatch = z.infer<typeof relatedMatch>;
