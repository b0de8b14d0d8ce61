import type { Database, Sql } from '../platform/ports/database.ts';
import type { ActionQueue } from '../platform/ports/action-queue.ts';
import { retryPolicyForStored } from './retry-policy.ts';
import { outboxJobFromRow, type OutboxRow } from './outbox-job.ts';

/*
 * The action runs repository: one row per (firing, action), the record of what the workers did.
 * Rows with status `failed` are the dead-letter list; `retry` sends one back to the queue.
 */

export type ActionRunStatus = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed';
export const actionRunStatuses: readonly ActionRunStatus[] = ['queued', 'running', 'retrying', 'succeeded', 'failed'];

export interface ActionRun {
  readonly id: string;
  readonly firing_id: string;
  readonly automation_name: string;
  readonly phase: 'triggered' | 'resolved';
  readonly action_index: number;
  readonly kind: string;
  readonly status: ActionRunStatus;
  readonly attempts: number;
  readonly created_at: string;
  readonly first_started_at: string | null;
  readonly last_started_at: string | null;
  readonly finished_at: string | null;
  readonly next_attempt_at: string | null;
  readonly duration_ms: number | null;
  readonly response_status: number | null;
  readonly response_body: string | null;
  readonly error: string | null;
  readonly result: unknown;
}

interface ActionRunRow extends Omit<ActionRun, 'created_at' | 'first_started_at' | 'last_started_at' | 'finished_at' | 'next_attempt_at'> {
  created_at: Date;
  first_started_at: Date | null;
  last_started_at: Date | null;
  finished_at: Date | null;
  next_attempt_at: Date | null;
}

const columns =
  'id, firing_id, automation_name, phase, action_index, kind, status, attempts, created_at, first_started_at, last_started_at, finished_at, next_attempt_at, duration_ms, response_status, response_body, error, result';

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function toRun(row: ActionRunRow): ActionRun {
  return {
    ...row,
    created_at: row.created_at.toISOString(),
    first_started_at: iso(row.first_started_at),
    last_started_at: iso(row.last_started_at),
    finished_at: iso(row.finished_at),
    next_attempt_at: iso(row.next_attempt_at),
  };
}

export interface ListActionRunsOptions {
  readonly status?: ActionRunStatus;
  readonly automation?: string;
  readonly firingId?: string;
  /** created_at ≥ since */
  readonly since?: Date;
  /** created_at < until */
  readonly until?: Date;
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

export type RetryOutcome = 'retried' | 'not-found' | 'not-failed';

export interface ActionRunsRepository {
  /** Newest first. */
  list(options?: ListActionRunsOptions): Promise<ActionRun[]>;
  get(id: string): Promise<ActionRun | undefined>;
  /** Sends a failed (dead-lettered) run back to the queue with a fresh attempt budget. */
  retry(id: string): Promise<RetryOutcome>;
}

export function createActionRunsRepository(db: Database | Sql, queue: ActionQueue): ActionRunsRepository {
  return {
    async list(options = {}) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        params.push(value);
        where.push(clause.replace('?', `$${params.length}`));
      };
      if (options.status) add('status = ?', options.status);
      if (options.automation) add('automation_name = ?', options.automation);
      if (options.firingId) add('firing_id = ?', options.firingId);
      if (options.since) add('created_at >= ?', options.since);
      if (options.until) add('created_at < ?', options.until);
      params.push(Math.min(Math.max(options.limit ?? 100, 1), 1_000));
      const rows = await db.query<ActionRunRow>(
        `SELECT ${columns} FROM action_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT $${params.length}`,
        params,
      );
      return rows.map(toRun);
    },

    async get(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const [row] = await db.query<ActionRunRow>(`SELECT ${columns} FROM action_runs WHERE id = $1`, [id]);
      return row ? toRun(row) : undefined;
    },

    async retry(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return 'not-found';
      const [run] = await db.query<{ status: ActionRunStatus }>('SELECT status FROM action_runs WHERE id = $1', [id]);
      if (!run) return 'not-found';
      if (run.status !== 'failed') return 'not-failed';
      await db.query(
        `UPDATE action_runs SET status = 'queued', next_attempt_at = NULL, finished_at = NULL, updated_at = now() WHERE id = $1`,
        [id],
      );
      if (await queue.retryDeadLetter(id)) return 'retried';
      // The dead letter expired from the queue: enqueue it again from its outbox row.
      const [row] = await db.query<OutboxRow>(
        'SELECT id, firing_id, automation_name, phase, action_index, action, context FROM action_outbox WHERE id = $1',
        [id],
      );
      if (!row) return 'not-found';
      const job = outboxJobFromRow(row);
      await queue.enqueue([{ id, data: job, policy: retryPolicyForStored(job.action) }]);
      return 'retried';
    },
  };
}
