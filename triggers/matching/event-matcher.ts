import type { VigilEvent } from '../../schemas/event.ts';
import type { LabelMatch, RelatedMatch } from '../../schemas/trigger.ts';
import { compileGlobList, namesVigilEvents, type GlobList } from './event-name-glob.ts';
import { compileLabelChecks, compileRelatedChecks, firstLabelMismatch, firstUnmatchedRelated, labelsMatch, type LabelCheck } from './label-match.ts';
import { compileWhere, type WhereData, type WherePredicate } from './where-clause.ts';

/** The matching part of a trigger: event names, resource labels, related resources, `where`. All AND-ed. */
export interface EventMatchSpec {
  readonly expect: readonly string[];
  readonly after?: readonly string[] | undefined;
  readonly match?: LabelMatch | undefined;
  readonly match_related?: RelatedMatch | readonly RelatedMatch[] | undefined;
  readonly where?: unknown;
}

export interface CompiledEventMatcher {
  readonly spec: EventMatchSpec;
  readonly expect: GlobList;
  readonly after: GlobList | null;
  readonly labels: readonly LabelCheck[];
  readonly related: readonly LabelCheck[][];
  readonly where: WherePredicate | null;
  /** Whether `vigil.*` events may match (the trigger names a `vigil.` pattern). */
  readonly acceptsVigilEvents: boolean;
}

export interface MatchRoles {
  /** The event is one the trigger counts or expects. */
  readonly expect: boolean;
  /** The event starts a proactive window. */
  readonly after: boolean;
}

export function compileEventMatcher(spec: EventMatchSpec): CompiledEventMatcher {
  const expect = compileGlobList(spec.expect);
  const after = spec.after ? compileGlobList(spec.after) : null;
  return {
    spec,
    expect,
    after,
    labels: compileLabelChecks(spec.match),
    related: compileRelatedChecks(spec.match_related),
    where: spec.where === undefined ? null : compileWhere(spec.where),
    acceptsVigilEvents: namesVigilEvents(expect) || (after !== null && namesVigilEvents(after)),
  };
}

function isVigilEvent(event: VigilEvent): boolean {
  return event.event.startsWith('vigil.');
}

// The three possible answers, shared: matching allocates nothing.
const expectOnly: MatchRoles = Object.freeze({ expect: true, after: false });
const afterOnly: MatchRoles = Object.freeze({ expect: false, after: true });
const both: MatchRoles = Object.freeze({ expect: true, after: true });

/** How the event relates to the trigger, or null when it does not match. `data` builds the `where` input lazily. */
export function matchEvent(m: CompiledEventMatcher, event: VigilEvent, data: () => WhereData): MatchRoles | null {
  const name = event.event;
  if (!m.acceptsVigilEvents && name.startsWith('vigil.')) return null;
  const expect = m.expect.test(name);
  const after = m.after !== null && m.after.test(name);
  if (!expect && !after) return null;
  if (m.labels.length > 0 && !labelsMatch(m.labels, event.resource)) return null;
  if (m.related.length > 0 && firstUnmatchedRelated(m.related, event.related) !== -1) return null;
  if (m.where !== null && !m.where(data())) return null;
  return expect ? (after ? both : expectOnly) : afterOnly;
}

export interface ClauseResult {
  /** The clause, named as in the automation JSON, e.g. `trigger.expect`, `trigger.match.env`. */
  readonly clause: string;
  readonly matched: boolean;
  readonly detail: string;
}

/** Clause by clause: why the event matches the matcher or not (every clause is evaluated). */
export function explainEventMatch(m: CompiledEventMatcher, event: VigilEvent, data: () => WhereData, prefix: string): ClauseResult[] {
  const results: ClauseResult[] = [];
  if (isVigilEvent(event)) {
    results.push({
      clause: `${prefix}.expect`,
      matched: m.acceptsVigilEvents,
      detail: m.acceptsVigilEvents
        ? 'Vigil event: accepted because the trigger names a "vigil." pattern'
        : 'Vigil events (vigil.*) only match triggers that name a "vigil." pattern explicitly (loop protection)',
    });
  }
  const expect = m.expect.test(event.event);
  results.push({
    clause: `${prefix}.expect`,
    matched: expect,
    detail: `event name "${event.event}" ${expect ? 'matches' : 'does not match'} ${JSON.stringify(m.spec.expect)}`,
  });
  if (m.after) {
    const after = m.after.test(event.event);
    results.push({ clause: `${prefix}.after`, matched: after, detail: `event name "${event.event}" ${after ? 'matches' : 'does not match'} ${JSON.stringify(m.spec.after)}` });
  }
  for (const check of m.labels) {
    const mismatch = firstLabelMismatch([check], event.resource);
    const actual = Object.hasOwn(event.resource, check.label) ? event.resource[check.label] : undefined;
    results.push({
      clause: `${prefix}.match.${check.label}`,
      matched: mismatch === null,
      detail: `resource label ${check.label}=${actual === undefined ? '(missing)' : JSON.stringify(actual)} ${mismatch === null ? 'matches' : 'does not match'} ${JSON.stringify(check.patterns)}`,
    });
  }
  m.related.forEach((checks, i) => {
    const hit = event.related.find((r) => firstLabelMismatch(checks, r) === null);
    results.push({
      clause: `${prefix}.match_related${Array.isArray(m.spec.match_related) ? `.${i}` : ''}`,
      matched: hit !== undefined,
      detail: hit ? `related resource ${hit.id} (role ${hit.role}) matches` : `no related resource matches ${JSON.stringify(Array.isArray(m.spec.match_related) ? m.spec.match_related[i] : m.spec.match_related)}`,
    });
  });
  if (m.where) {
    const ok = m.where(data());
    results.push({ clause: `${prefix}.where`, matched: ok, detail: `JSON Logic ${JSON.stringify(m.spec.where)} is ${ok ? 'truthy' : 'falsy'} for this event` });
  }
  return results;
}
