import type { FiringContext } from '../schemas/firing.ts';
import type { ActionOutboxRow } from '../triggers/firing-records.ts';

/** A row of `action_outbox` (migration 0002), as the relay reads it. */
export interface OutboxRow {
  id: string;
  firing_id: string;
  automation_name: string;
  phase: 'triggered' | 'resolved';
  action_index: number;
  /** The action as saved (schemas/action.ts), JSON. */
  action: unknown;
  context: FiringContext;
}

/** An outbox row as its writer (the trigger evaluator or the deadline timer) holds it. */
export type WrittenOutboxRow = ActionOutboxRow;

/** The row as the relay reads it back, for a hand-off that skips the read. */
export function outboxRowOf(row: WrittenOutboxRow): OutboxRow {
  return {
    id: row.id,
    firing_id: row.firingId,
    automation_name: row.automationName,
    phase: row.phase,
    action_index: row.actionIndex,
    action: row.action,
    context: row.context,
  };
}

/** The queue job's payload: everything a worker needs, so that it never reads the outbox. */
export interface OutboxJob {
  readonly outbox_id: string;
  readonly firing_id: string;
  readonly automation_name: string;
  readonly phase: 'triggered' | 'resolved';
  readonly action_index: number;
  readonly action: unknown;
  readonly context: FiringContext;
}

export function outboxJobFromRow(row: OutboxRow): OutboxJob {
  return {
    outbox_id: row.id,
    firing_id: row.firing_id,
    automation_name: row.automation_name,
    phase: row.phase,
    action_index: row.action_index,
    action: row.action,
    context: row.context,
  };
}

/** Reads a job payload back; throws when it is not one. */
export function outboxJobFromData(data: unknown): OutboxJob {
  const job = data as Partial<OutboxJob> | null;
  if (
    !job ||
    typeof job.outbox_id !== 'string' ||
    typeof job.firing_id !== 'string' ||
    typeof job.automation_name !== 'string' ||
    (job.phase !== 'triggered' && job.phase !== 'resolved') ||
    typeof job.action_index !== 'number' ||
    typeof job.context !== 'object' ||
    job.context === null
  ) {
    throw new Error('the job is not an action outbox job');
  }
  return job as OutboxJob;
}
