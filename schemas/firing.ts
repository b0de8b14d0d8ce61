import type { VigilEvent } from './event.ts';

/**
 * What an action sees when it runs: the context its Liquid templates render against.
 * Written by the trigger evaluator into the action outbox (JSON), read by the action workers.
 */
export interface FiringContext {
  readonly automation: {
    readonly name: string;
    readonly description: string;
    readonly tags: readonly string[];
  };
  readonly firing: {
    readonly id: string;
    /** `triggered` for `actions`, `resolved` for `actions_on_resolve`. */
    readonly state: 'triggered' | 'resolved';
    readonly triggered_at: string;
    readonly resolved_at?: string;
    /** Deadline triggers and proactive triggers: when the expected events were due. */
    readonly deadline?: string;
    /** The values of the trigger's `for_each` keys for this firing, e.g. `{ "resource.id": "airflow.dag.sales" }`. */
    readonly for_each: Readonly<Record<string, string>>;
    readonly window: { readonly start: string; readonly end: string };
    /** How many matching events the window held when it fired. */
    readonly count: number;
    /** The events that made it fire (the most recent ones, at most 20). */
    readonly events: readonly VigilEvent[];
  };
  /** The event that fired or resolved it; null when a deadline passed with no event. */
  readonly event: VigilEvent | null;
}

/**
 * A row of `action_outbox` (migration 0002), named as its columns: one action of a firing,
 * written by the trigger evaluator or the deadline timer in the firing's transaction, and
 * relayed into the action queue as it is (handed over in-process, or read back by a sweep).
 */
export interface ActionOutboxRow {
  readonly id: string;
  readonly firing_id: string;
  readonly automation_name: string;
  readonly phase: 'triggered' | 'resolved';
  readonly action_index: number;
  /** The action as saved (schemas/action.ts), JSON. */
  readonly action: unknown;
  readonly context: FiringContext;
}
