import type { ActionOutboxRow, FiringContext } from '../schemas/firing.ts';

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

/** The job of an outbox row: the row's columns, its id as `outbox_id`. */
export function outboxJobFromRow(row: ActionOutboxRow): OutboxJob {
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
