import type { Automation } from '../schemas/automation.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { explainEventMatch, type ClauseResult } from './matching/event-matcher.ts';
import { compileForEach } from './matching/for-each-key.ts';
import { maxVigilDepth, vigilDepth } from './matching/loop-protection.ts';
import { whereData, type WhereData } from './matching/where-clause.ts';
import { compileTriggerProgram, type TriggerProgram } from './trigger-program.ts';

export type { ClauseResult } from './matching/event-matcher.ts';

export interface Explanation {
  readonly automation: string;
  readonly event: string;
  /** Whether the event reaches the trigger's windows (it matches every clause). */
  readonly matched: boolean;
  readonly clauses: readonly ClauseResult[];
}

/**
 * Why an event matches an automation's trigger or not, clause by clause (every clause is
 * evaluated, so the answer names all reasons, not only the first). Whether it then fires
 * depends on the window state, which this does not look at. The explainer of a compiled trigger
 * compiles nothing per event (a dry run explains up to 1,000).
 */
export function explainerFor(program: TriggerProgram): (event: VigilEvent) => Explanation {
  const t = program.automation.trigger;
  const forEachKeys = t.type === 'deadline' ? undefined : t.for_each;
  const forEach = forEachKeys ? compileForEach(forEachKeys) : undefined;
  return (event) => explainWith(program, forEachKeys, forEach, event);
}

/** One explanation; compiles the trigger for it (explainerFor a compiled trigger, for many events). */
export function explain(automation: Automation, event: VigilEvent): Explanation {
  return explainerFor(compileTriggerProgram(automation, 0n, { allowedLatenessMs: 0 }))(event);
}

function explainWith(
  program: TriggerProgram,
  forEachKeys: readonly string[] | undefined,
  forEach: ReturnType<typeof compileForEach> | undefined,
  event: VigilEvent,
): Explanation {
  const automation = program.automation;
  let data: WhereData | null = null;
  const lazy = (): WhereData => (data ??= whereData(event));
  const clauses: ClauseResult[] = [];
  const depth = vigilDepth(event);
  if (depth > 0) {
    clauses.push({
      clause: 'loop_protection',
      matched: depth < maxVigilDepth,
      detail: `Vigil event at depth ${depth}; events at depth ${maxVigilDepth} or more match no automation`,
    });
  }
  const t = automation.trigger;
  let childHit = false;
  if (t.type === 'compound' || t.type === 'sequence') {
    program.matchers.forEach((m, i) => {
      const results = explainEventMatch(m, event, lazy, `trigger.triggers.${i}`);
      const ok = results.every((r) => r.matched);
      childHit ||= ok;
      clauses.push(...results);
    });
    clauses.push({ clause: 'trigger.triggers', matched: childHit, detail: childHit ? 'at least one child trigger matches' : 'no child trigger matches' });
  } else {
    const results = explainEventMatch(program.matchers[0]!, event, lazy, 'trigger');
    // For proactive triggers, matching `expect` or `after` is enough.
    const nameClauses = results.filter((r) => r.clause === 'trigger.expect' || r.clause === 'trigger.after');
    const vigilGate = results.find((r) => r.clause === 'trigger.expect' && r.detail.startsWith('Vigil'));
    const nameOk = (vigilGate ? vigilGate.matched : true) && nameClauses.some((r) => r.matched && !r.detail.startsWith('Vigil'));
    clauses.push(...results.map((r) => (r.clause === 'trigger.after' || (r.clause === 'trigger.expect' && !r.detail.startsWith('Vigil')) ? { ...r, matched: r.matched || nameOk } : r)));
  }
  if (forEachKeys && forEach) {
    const key = forEach(event);
    clauses.push({
      clause: 'trigger.for_each',
      matched: key !== null,
      detail: key ? `window key ${JSON.stringify(key.values)}` : `the event lacks one of the labels ${JSON.stringify(forEachKeys)}`,
    });
  }
  const matched = clauses.every((c) => c.matched) && program.route(event, lazy) !== null && depth < maxVigilDepth;
  return { automation: automation.name, event: event.id, matched, clauses };
}
