import { z } from 'zod';
import { eventLimits as limits } from './limits.ts';
import { isStorableTime, storableTimeMessage, unstorableStringReason, unstorableStrings, type UnstorableValue } from './storable.ts';

/** Dotted event name: segments of letters, digits, `_`, `-` and `:`, e.g. `airflow.dag_run.success`. */
const eventNamePattern = /^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/;
const labelKeyPattern = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Printable ASCII without spaces: safe in URLs, logs and idempotency keys. */
const eventIdPattern = /^[\x21-\x7e]+$/;

const eventName = z
  .string()
  .min(1, 'must not be empty')
  .max(limits.maxNameLength, `must be at most ${limits.maxNameLength} characters`)
  .regex(eventNamePattern, 'must be dot-separated segments of letters, digits, "_", "-" or ":" (e.g. airflow.dag_run.success)');

function refuseUnstorable(value: string, ctx: z.RefinementCtx): void {
  const reason = unstorableStringReason(value);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
}

const labelValue = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'label values must be strings') })
  .max(limits.maxLabelValueLength, `must be at most ${limits.maxLabelValueLength} characters`)
  .superRefine(refuseUnstorable);

const requiredLabel = labelValue.min(1, 'must not be empty');

function checkLabelKeys(labels: Record<string, string>, ctx: z.RefinementCtx): void {
  const keys = Object.keys(labels);
  if (keys.length > limits.maxLabels) {
    ctx.addIssue({ code: 'custom', message: `has ${keys.length} labels; at most ${limits.maxLabels} are allowed` });
  }
  for (const key of keys) {
    if (key.length > limits.maxLabelKeyLength || !labelKeyPattern.test(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `label keys must start with a letter or "_", contain only letters, digits, "_", ".", ":" or "-", and be at most ${limits.maxLabelKeyLength} characters`,
      });
    }
  }
}

export const resource = z
  .object({ id: requiredLabel })
  .catchall(labelValue)
  .superRefine(checkLabelKeys);

const relatedResource = z
  .object({ id: requiredLabel, role: requiredLabel })
  .catchall(labelValue)
  .superRefine(checkLabelKeys);

function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limits.maxPayloadDepth) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

export const payload = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  if (depthOf(value) > limits.maxPayloadDepth) {
    ctx.addIssue({ code: 'custom', message: `is nested more than ${limits.maxPayloadDepth} levels deep` });
    return;
  }
  for (const problem of unstorableStrings(value)) ctx.addIssue({ code: 'custom', path: [...problem.path], message: problem.message });
});

const timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone, e.g. 2026-11-22T08:59:00Z' })
  .refine(isStorableTime, storableTimeMessage);

/** An event as an emitter sends it: `id` and `occurred` may be left to Vigil. */
export const incomingEvent = z
  .object({
    id: z
      .string()
      .min(1, 'must not be empty')
      .max(limits.maxIdLength, `must be at most ${limits.maxIdLength} characters`)
      .regex(eventIdPattern, 'must be printable ASCII without spaces')
      .optional(),
    occurred: timestamp.optional(),
    event: eventName,
    resource,
    related: z.array(relatedResource).max(limits.maxRelated, `at most ${limits.maxRelated} related resources are allowed`).optional(),
    payload: payload.optional(),
    follows: z.string().min(1).max(limits.maxIdLength).regex(eventIdPattern, 'must be printable ASCII without spaces').optional(),
  })
  .strict();

export type IncomingEvent = z.infer<typeof incomingEvent>;

/** An event as stored in the log: every field filled in, times normalized to UTC. */
export const vigilEvent = z
  .object({
    id: z.string(),
    occurred: z.string(),
    received: z.string(),
    event: z.string(),
    resource: z.object({ id: z.string() }).catchall(z.string()),
    related: z.array(z.object({ id: z.string(), role: z.string() }).catchall(z.string())),
    payload: z.record(z.string(), z.unknown()),
    follows: z.string().optional(),
  })
  .strict();

export type VigilEvent = z.infer<typeof vigilEvent>;
export type Resource = VigilEvent['resource'];
export type RelatedResource = VigilEvent['related'][number];

/**
 * Why an event from the log cannot be stored (the intake's rule, decision 0600), for consumers
 * that meet a record written before the rule or by something other than the intake. Empty when
 * it can be.
 */
export function unstorableEventProblems(event: VigilEvent): UnstorableValue[] {
  const problems = unstorableStrings(event);
  for (const field of ['occurred', 'received'] as const) {
    if (typeof event[field] !== 'string' || !isStorableTime(event[field])) problems.push({ path: [field], message: storableTimeMessage });
  }
  return problems;
}
