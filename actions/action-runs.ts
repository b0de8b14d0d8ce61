import type { Database, Sql } from '../platform/ports/database.ts';
import type { ActionQueue } from '../platform/ports/action-queue.ts';
import { retryPolicyForStored } from './retry-policy.ts';
import type { ActionOutboxRow } from '../schemas/firing.ts';
import { outboxJobFromRow } from './outbox-job.ts';

/*
 * The action runs repository: one row per (firing, action), the record of what the workers did.
 * Rows with status `failed` are the dead-letter list; `retry` sends one back to the queue.
 */

import type { ActionRun, ActionRunStatus } from '../schemas/api-resources.ts';
import { claimFailedRun, restoreFailedRun } from './run-records.ts';
import { encodePageCursor, type PageCursor } from '../schemas/page-cursor.ts';
import { isUuid } from '../schemas/uuid.ts';

export { actionRunStatuses, type ActionRun, type ActionRunStatus } from '../schemas/api-resources.ts';

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

export interface PageActionRunsOptions extends ListActionRunsOptions {
  /** Continue after this page position (a previous page's `next`). */
  readonly after?: PageCursor;
}

export interface ActionRunsPage {
  readonly runs: ActionRun[];
  /** Present when there are more rows: pass it back as `after` (the API's `cursor`). */
  readonly next?: string;
}

/**
 * - `retried`: back in the queue;
 * - `not-found`: no such run;
 * - `not-failed`: only failed (dead-lettered) runs can be retried;
 * - `expired`: the job's data is gone from both the queue and the outbox (past their retention);
 * - `busy`: the queue still holds the run's job outside its dead letters (try again shortly).
 */
export type RetryOutcome = 'retried' | 'not-found' | 'not-failed' | 'expired' | 'busy';

/** How long `retry` waits for a just-failed job to reach the dead letters. */
const retryWaitForDeadLetterMs = 3_000;

export interface ActionRunsRepository {
  /** Newest first. */
  list(options?: ListActionRunsOptions): Promise<ActionRun[]>;
  /** Newest first, a page at a time (keyset pagination: stable while new runs arrive). */
  page(options?: PageActionRunsOptions): Promise<ActionRunsPage>;
  get(id: string): Promise<ActionRun | undefined>;
  /**
   * Sends a failed (dead-lettered) run back to the queue with a fresh attempt budget. Rejects
   * (leaving the run failed) when the queue cannot be reached.
   */
  retry(id: string): Promise<RetryOutcome>;
}

export function createActionRunsRepository(db: Database | Sql, queue: ActionQueue): ActionRunsRepository {
  async function page(options: PageActionRunsOptions = {}): Promise<ActionRunsPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, ...values: unknown[]) => {
      let text = clause;
      for (const value of values) {
        params.push(value);
        text = text.replace('?', `$${params.length}`);
      }
      where.push(text);
    };
    if (options.status) add('status = ?', options.status);
    if (options.automation) add('automation_name = ?', options.automation);
    if (options.firingId) {
      // Not a UUID: nothing can match (and PostgreSQL would reject the comparison).
      if (!isUuid(options.firingId)) return { runs: [] };
      add('firing_id = ?', options.firingId);
    }
    if (options.since) add('created_at >= ?', options.since);
    if (options.until) add('created_at < ?', options.until);
    if (options.after) add('(created_at, id) < (?::timestamptz, ?::uuid)', options.after.at, options.after.id);
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1_000);
    params.push(limit + 1);
    const rows = await db.query<ActionRunRow & { position: string }>(
      `SELECT ${columns}, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position
         FROM action_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const kept = rows.slice(0, limit);
    const last = kept.at(-1);
    const runs = kept.map(({ position: _position, ...row }) => toRun(row));
    return rows.length > limit && last ? { runs, next: encodePageCursor({ at: last.position, id: last.id }) } : { runs };
  }

  return {
    async list(options = {}) {
      return (await page(options)).runs;
    },

    page,

    async get(id) {
      if (!isUuid(id)) return undefined;
      const [row] = await db.query<ActionRunRow>(`SELECT ${columns} FROM action_runs WHERE id = $1`, [id]);
      return row ? toRun(row) : undefined;
    },

    async retry(id) {
      if (!isUuid(id)) return 'not-found';
      const claimed = await claimFailedRun(db, id);
      if (claimed === undefined) {
        const [run] = await db.query<{ status: ActionRunStatus }>('SELECT status FROM action_runs WHERE id = $1', [id]);
        return run ? 'not-failed' : 'not-found';
      }
      // Puts the run back in the dead-letter list as it was when the retry could not be carried out.
      const restore = () => restoreFailedRun(db, id, claimed.finishedAt);
      try {
        if (await queue.retryDeadLetter(id)) return 'retried';
        // A worker records a run as failed just before the queue moves its job to the dead letters:
        // give that move a moment. A job in any other state would swallow a re-enqueue of its id.
        let state = await queue.state(id);
        for (let waited = 0; state === 'active' && waited < retryWaitForDeadLetterMs; waited += 100) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          state = await queue.state(id);
        }
        if (state === 'dead' && (await queue.retryDeadLetter(id))) return 'retried';
        if (state !== undefined && state !== 'dead') {
          await restore();
          return 'busy';
        }
        // The dead letter expired from the queue: enqueue it again from its outbox row (kept while the run is failed).
        const [row] = await db.query<ActionOutboxRow>(
          'SELECT id, firing_id, automation_name, phase, action_index, action, context FROM action_outbox WHERE id = $1',
          [id],
        );
        if (!row) {
          await restore();
          return 'expired';
        }
        const job = outboxJobFromRow(row);
        await queue.enqueue([{ id, data: job, policy: retryPolicyForStored(job.action) }]);
        return 'retried';
      } catch (error) {
        await restore().catch(() => undefined);
        throw error;
      }
    },
  };
}
