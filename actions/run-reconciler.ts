import type { ActionQueue } from '../platform/ports/action-queue.ts';
import type { Database } from '../platform/ports/database.ts';

/*
 * Reconciles action run records with the queue after an outage (decision 0604). The queue is
 * the truth about whether a job ran: a PostgreSQL crash that loses the last commits (or a
 * worker killed between the queue's completion and its record update) leaves records `queued`,
 * `running` or `retrying` for jobs the queue finished long ago, and nothing else would ever
 * move them. A pass looks at the records in those states not updated for `staleAfterMs`, asks
 * the queue for each job's state, and sets:
 *   completed → succeeded (outcome details were not kept: `error` says so);
 *   dead      → failed;
 *   waiting / delayed while `running` → queued (it will run again);
 * active, and jobs the queue no longer knows (completed jobs are kept an hour), are left alone.
 */
export interface RunReconcilerOptions {
  readonly db: Database;
  readonly queue: ActionQueue;
  readonly logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Records untouched this long are looked at (default 10 min: longer than any attempt's timeout). */
  readonly staleAfterMs?: number;
  /** How often a pass runs (default 5 min); one runs at start. */
  readonly intervalMs?: number;
  /** Records looked at per pass (default 500). */
  readonly batchSize?: number;
}

export interface ReconcileResult {
  readonly succeeded: number;
  readonly failed: number;
  readonly requeued: number;
}

export const reconciledNote = 'reconciled after an outage: the queue reports this job';

export async function reconcileRuns(options: RunReconcilerOptions): Promise<ReconcileResult> {
  const { db, queue } = options;
  const rows = await db.query<{ id: string; status: string }>(
    `SELECT id::text, status FROM action_runs WHERE status IN ('queued', 'running', 'retrying')
       AND updated_at < now() - $1 * interval '1 millisecond' ORDER BY updated_at LIMIT $2`,
    [options.staleAfterMs ?? 600_000, options.batchSize ?? 500],
  );
  const result = { succeeded: 0, failed: 0, requeued: 0 };
  for (const row of rows) {
    const state = await queue.state(row.id);
    if (state === 'completed') {
      const updated = await db.query(
        `UPDATE action_runs SET status = 'succeeded', finished_at = coalesce(finished_at, now()), next_attempt_at = NULL,
           error = $2, updated_at = now() WHERE id = $1 AND status IN ('queued', 'running', 'retrying') RETURNING id`,
        [row.id, `${reconciledNote} completed; its response was not recorded`],
      );
      result.succeeded += updated.length;
    } else if (state === 'dead') {
      const updated = await db.query(
        `UPDATE action_runs SET status = 'failed', finished_at = coalesce(finished_at, now()), next_attempt_at = NULL,
           error = coalesce(error, $2), updated_at = now() WHERE id = $1 AND status IN ('queued', 'running', 'retrying') RETURNING id`,
        [row.id, `${reconciledNote} dead-lettered`],
      );
      result.failed += updated.length;
    } else if ((state === 'waiting' || state === 'delayed') && row.status === 'running') {
      const updated = await db.query(`UPDATE action_runs SET status = 'queued', updated_at = now() WHERE id = $1 AND status = 'running' RETURNING id`, [row.id]);
      result.requeued += updated.length;
    }
  }
  if (result.succeeded + result.failed + result.requeued > 0) options.logger.info({ ...result }, 'action run records reconciled with the queue');
  return result;
}

/** Runs a pass at start and every `intervalMs`; a failing pass is logged and tried again next time. */
export function startRunReconciler(options: RunReconcilerOptions): { close(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const pass = () => {
    running = reconcileRuns(options).catch((error: unknown) => options.logger.warn({ err: error }, 'reconciling action run records failed; next pass later'));
  };
  pass();
  const timer = setInterval(pass, options.intervalMs ?? 300_000);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
