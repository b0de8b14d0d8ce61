import { z } from 'zod';
import { action } from './action.ts';
import { trigger, triggerIssues, type Trigger } from './trigger.ts';

export const automationNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const actions = z.array(action).max(20, 'at most 20 actions');

export const automation = z
  .object({
    name: z
      .string()
      .regex(automationNamePattern, 'must be 1–128 characters: letters, digits, ".", "_" or "-", starting with a letter or digit')
      .describe('Unique name: the key for upserts.'),
    description: z.string().max(4_000).default(''),
    enabled: z.boolean().default(true),
    tags: z.array(z.string().min(1).max(64)).max(50).default([]),
    trigger,
    actions: actions.default([]).describe('Run when the trigger fires.'),
    actions_on_resolve: actions.default([]).describe('Run when a proactive or deadline firing resolves (the expected event arrived late).'),
  })
  .strict()
  .superRefine((value, ctx) => {
    for (const issue of triggerIssues(value.trigger)) {
      ctx.addIssue({ code: 'custom', path: ['trigger', ...issue.path], message: issue.message });
    }
    if (value.actions_on_resolve.length > 0 && !resolves(value.trigger)) {
      ctx.addIssue({
        code: 'custom',
        path: ['actions_on_resolve'],
        message: 'only proactive event triggers and deadline triggers resolve; this trigger never runs actions_on_resolve',
      });
    }
  });

export type Automation = z.infer<typeof automation>;
/** An automation as written by a user, before defaults are filled in. */
export type AutomationInput = z.input<typeof automation>;

export function resolves(t: Trigger): boolean {
  return t.type === 'deadline' || (t.type === 'event' && t.posture === 'proactive');
}

export interface ValidationError {
  /** Dotted path of the offending field, e.g. `trigger.within`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type ValidationResult = { ok: true; automation: Automation } | { ok: false; errors: ValidationError[] };

function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): ValidationError[] {
  const errors: ValidationError[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest rather than "invalid input".
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
      errors.push(...flattenIssues(best, path));
      continue;
    }
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}`;
    errors.push({ path: path.map(String).join('.'), message });
  }
  return errors;
}

/** Validates an automation document (parsed JSON); errors name the path of each problem. */
export function validateAutomation(json: unknown): ValidationResult {
  const result = automation.safeParse(json);
  if (result.success) return { ok: true, automation: result.data };
  return { ok: false, errors: flattenIssues(result.error.issues) };
}
