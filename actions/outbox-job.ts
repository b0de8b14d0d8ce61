import type { ActionOutboxRow } from '../schemas/firing.ts';

/**
 * The queue job's payload: the outbox row as it is, its id named `outbox_id` (the job's own id
 * is the same value), so that a worker never reads the outbox.
 */
export type OutboxJob = Omit<ActionOutboxRow, 'id'> & { readonly outbox_id: string };

/** The job of an outbox row. */
export function outboxJobFromRow({ id, ...row }: ActionOutboxRow): OutboxJob {
  return { outbox_id: id, ...row };
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
