/*
 * The wire types of the Vigil API, derived from the zod schemas in schemas/ (z.infer) where the
 * server validates with them.
 */
import type { Automation, AutomationInput } from '../schemas/automation.ts';
import type { IncomingEvent, VigilEvent } from '../schemas/event.ts';
import type { ApiProblem } from './errors.ts';
import type { ActionRun, ActionRunStatus, ApiWarning, Firing } from '../schemas/api-resources.ts';

export type { Automation, AutomationInput, ValidationError } from '../schemas/automation.ts';
export type { IncomingEvent, VigilEvent, Resource, RelatedResource } from '../schemas/event.ts';
export type { Trigger } from '../schemas/trigger.ts';
export type { Action, ActionInput, ActionKind } from '../schemas/action.ts';

/** A time as a Date or an ISO 8601 string with a time zone. */
export type Instant = Date | string;

/** Filters of the event history and the live stream; all optional, AND-ed. */
export interface EventFilter {
  /** occurred ≥ since */
  readonly since?: Instant;
  /** occurred < until */
  readonly until?: Instant;
  /** Event-name glob: `*` matches any characters; a leading `!` negates. */
  readonly event?: string;
  /** Resource id. */
  readonly resource?: string;
  /** Resource labels that must be equal. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface EventPage {
  readonly events: VigilEvent[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  readonly next?: string;
}

export interface SendResult {
  readonly accepted: number;
  readonly ids: string[];
}

/** An automation as the API returns it: the document with defaults filled in, plus version and times. */
export type StoredAutomation = Automation & {
  /** +1 on every change. */
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
};

export interface PutAutomationResult {
  readonly automation: StoredAutomation;
  /** True when no automation of that name existed (201). */
  readonly created: boolean;
  /** False when the stored definition was identical (nothing written: no version bump, no reload). */
  readonly changed: boolean;
  /** Problems that did not stop the write, e.g. an action naming a connection that does not exist. */
  readonly warnings?: readonly ApiWarning[];
}

/** PATCH: the fields that change without resending the document. */
export interface AutomationPatch {
  readonly enabled?: boolean;
  readonly description?: string;
  /** Replaces the tags. */
  readonly tags?: readonly string[];
}

export type AutomationValidation =
  /** `automation`: the normalized document (defaults filled in). */
  | { readonly valid: true; readonly automation: Automation }
  | { readonly valid: false; readonly message: string; readonly errors: readonly ApiProblem[] };

export type { Firing, ConnectionTestResult, ConnectionCheck, ApiWarning } from '../schemas/api-resources.ts';
export type { ApiKeyResource, CreatedApiKey, Scope } from '../schemas/api-key.ts';
export type { RedactedConnection, ConnectionConfig } from '../schemas/connection.ts';

export interface FiringFilter {
  readonly status?: 'triggered' | 'resolved';
  /** triggered_at ≥ since */
  readonly since?: Instant;
  /** triggered_at < until */
  readonly until?: Instant;
}

export interface FiringPage {
  readonly firings: Firing[];
  readonly next?: string;
}

/**
 * Dry-run input: an event list, or the stored history of a time range; with `automation`, an
 * unsaved definition is tested instead of the stored one.
 */
export type AutomationTestInput = ({ readonly events: readonly IncomingEvent[] } | { readonly since: Instant; readonly until: Instant }) & {
  readonly automation?: AutomationInput;
};

/** Why one event matches an automation's trigger or not, clause by clause (every clause is evaluated). */
export interface Explanation {
  /** The event's id. */
  readonly event: string;
  readonly event_id?: string;
  /** Whether the event reaches the trigger's windows (it matches every clause). */
  readonly matched: boolean;
  readonly clauses: ReadonlyArray<{ readonly clause: string; readonly matched: boolean; readonly detail: string }>;
}

/** A firing the dry run would have produced. */
export interface TestFiring {
  /** `resolved` when an expected event arrived later within the run. */
  readonly state?: 'triggered' | 'resolved';
  /** When it fired: the event's time, or the due time of a missed expectation. */
  readonly at?: string;
  readonly triggered_at: string;
  readonly resolved_at?: string;
  readonly resolved_by?: string;
  readonly deadline?: string;
  readonly for_each: Readonly<Record<string, string>>;
  readonly window?: { readonly start: string; readonly end: string };
  readonly count: number;
  readonly event_ids: readonly string[];
}

/** The answer of a dry run (POST /api/automations/{name}/test). */
export interface AutomationTestResult {
  /** How many times the automation would have fired. */
  readonly fired: number;
  /** How many of those firings an expected event resolved within the run. */
  readonly resolved?: number;
  /** The firings (the first 1,000; `firings_not_listed` counts the rest). */
  readonly firings: readonly TestFiring[];
  /** Clause-by-clause explanations of the events (the first 1,000). */
  readonly explanations: readonly Explanation[];
  /** Events evaluated, events that matched every clause, duplicates (counted once) and late events (not counted). */
  readonly events?: number;
  readonly matched?: number;
  readonly duplicates?: number;
  readonly late?: number;
  /** The virtual clock's range. */
  readonly clock?: { readonly start: string; readonly end: string };
  readonly firings_not_listed?: number;
  readonly explanations_not_listed?: number;
}

export { actionRunStatuses, type ActionRun, type ActionRunStatus } from '../schemas/api-resources.ts';

export interface ActionRunFilter {
  readonly status?: ActionRunStatus;
  readonly automation?: string;
}

export interface ActionRunPage {
  readonly action_runs: ActionRun[];
  readonly next?: string;
}
