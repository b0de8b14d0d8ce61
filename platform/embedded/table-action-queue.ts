import {
  type ActionQueue,
  type DeadLetter,
  type EnqueueRequest,
  type ProcessOptions,
  type QueueWorker,
} from '../ports/action-queue.ts';
import type { Database } from '../ports/database.ts';
import { type JobRow, type JobTable, TableWorker } from './table-queue-worker.ts';
import { asError } from '../as-error.ts';

/**
 * The ActionQueue port on a jobs table of the embedded store (zero-setup mode, no Redis).
 *
 * - A job row per id (primary key (queue, id)): enqueueing an id the table holds, in any state,
 *   adds nothing. Completed rows are kept for `completedRetentionMs` so that dedupe holds after
 *   completion, then swept.
 * - States: pending (waiting, or delayed while `run_at` is in the future), active, completed,
 *   dead. Workers claim due jobs with UPDATE … FOR UPDATE SKIP LOCKED, at most `concurrency`
 *   at once; retries and dead-lettering follow the port's shared `decideAfterFailure`.
 * - Jobs left active by a process that died are started again, with the same attempt number,
 *   when the queue is opened: the embedded store belongs to one process (lock file).
 * - Workers are woken in-process on enqueue, sleep until the next delayed job is due, and poll
 *   as a fallback.
 *
 * Tables are created by the adapter, like the embedded event log's (docs/decisions/0301).
 */
export interface TableActionQueueOptions {
  readonly db: Database;
  /** Queue name: several queues can share the table (default `vigil.actions`). */
  readonly name?: string;
  /** Workers look for due jobs at least this often (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** How long a closing worker waits for its jobs before aborting them (default 10 s). */
  readonly closeGraceMs?: number;
  /** Completed jobs are deleted after this long (default 7 days); their ids can then be enqueued again. */
  readonly completedRetentionMs?: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS embedded_action_jobs (
  queue        text        NOT NULL,
  id           text        NOT NULL,
  seq          bigserial   NOT NULL,
  data         jsonb       NOT NULL,
  policy       jsonb       NOT NULL,
  state        text        NOT NULL CHECK (state IN ('pending', 'active', 'completed', 'dead')),
  attempt      integer     NOT NULL DEFAULT 1,
  run_at       timestamptz NOT NULL,
  enqueued_at  timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  reason       text,
  PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS embedded_action_jobs_due ON embedded_action_jobs (queue, run_at, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS embedded_action_jobs_dead ON embedded_action_jobs (queue, updated_at) WHERE state = 'dead';
CREATE INDEX IF NOT EXISTS embedded_action_jobs_completed ON embedded_action_jobs (updated_at) WHERE state = 'completed'`;

class TableActionQueue implements ActionQueue, JobTable {
  readonly sharesDatabase = true;
  readonly pollIntervalMs: number;
  readonly closeGraceMs: number;
  readonly #db: Database;
  readonly #name: string;
  readonly #completedRetentionMs: number;
  readonly #workers = new Set<TableWorker>();
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TableActionQueueOptions) {
    this.#db = options.db;
    this.#name = options.name ?? 'vigil.actions';
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.closeGraceMs = options.closeGraceMs ?? 10_000;
    this.#completedRetentionMs = options.completedRetentionMs ?? 7 * 24 * 3_600_000;
    this.#sweepTimer = setInterval(() => {
      this.#sweepCompleted().catch(() => undefined);
    }, Math.min(3_600_000, Math.max(1000, this.#completedRetentionMs / 10)));
    this.#sweepTimer.unref();
  }

  async open(): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(schema);
      // Jobs active in a process that died: started again with the same attempt number.
      await tx.query("UPDATE embedded_action_jobs SET state = 'pending', run_at = $2, updated_at = $2 WHERE queue = $1 AND state = 'active'", [
        this.#name,
        new Date(),
      ]);
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the action queue is closed');
  }

  async enqueue(jobs: readonly EnqueueRequest[]): Promise<void> {
    this.#assertOpen();
    if (jobs.length === 0) return;
    const now = Date.now();
    const unique = new Map<string, EnqueueRequest>();
    for (const job of jobs) if (!unique.has(job.id)) unique.set(job.id, job);
    const rows = [...unique.values()].map((job) => ({
      id: job.id,
      data: job.data ?? null,
      policy: job.policy,
      run_at: new Date(now + Math.max(0, job.delayMs ?? 0)).toISOString(),
    }));
    await this.#db.query(
      `INSERT INTO embedded_action_jobs (queue, id, data, policy, state, attempt, run_at, enqueued_at, updated_at)
       SELECT $1, j->>'id', j->'data', j->'policy', 'pending', 1, (j->>'run_at')::timestamptz, $2, $2
       FROM jsonb_array_elements($3::jsonb) AS j
       ON CONFLICT (queue, id) DO NOTHING`,
      [this.#name, new Date(now), JSON.stringify(rows)],
    );
    for (const worker of this.#workers) worker.wake();
  }

  process(options: ProcessOptions): Promise<QueueWorker> {
    try {
      this.#assertOpen();
      const worker = new TableWorker(this, options);
      this.#workers.add(worker);
      worker.start();
      return Promise.resolve(worker);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  forget(worker: TableWorker): void {
    this.#workers.delete(worker);
  }

  /** Marks up to `limit` due jobs active and returns them, oldest due first. */
  async claim(limit: number): Promise<JobRow[]> {
    const now = new Date();
    const rows = await this.#db.query<JobRow & { seq: bigint }>(
      `UPDATE embedded_action_jobs AS j SET state = 'active', updated_at = $3
       FROM (SELECT queue, id FROM embedded_action_jobs
             WHERE queue = $1 AND state = 'pending' AND run_at <= $3
             ORDER BY run_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) AS due
       WHERE j.queue = due.queue AND j.id = due.id
       RETURNING j.id, j.data, j.policy, j.attempt, j.enqueued_at, j.run_at, j.seq`,
      [this.#name, limit, now],
    );
    return rows.sort((a, b) => (a.run_at.getTime() - b.run_at.getTime()) || Number(a.seq - b.seq));
  }

  /** When the next pending job is due, if there is one. */
  async nextDue(): Promise<Date | undefined> {
    const [row] = await this.#db.query<{ run_at: Date | null }>(
      "SELECT min(run_at) AS run_at FROM embedded_action_jobs WHERE queue = $1 AND state = 'pending'",
      [this.#name],
    );
    return row?.run_at == null ? undefined : new Date(row.run_at);
  }

  async complete(id: string): Promise<void> {
    await this.#db.query("UPDATE embedded_action_jobs SET state = 'completed', updated_at = $3 WHERE queue = $1 AND id = $2", [
      this.#name,
      id,
      new Date(),
    ]);
  }

  async retryLater(id: string, attempt: number, delayMs: number): Promise<void> {
    const now = Date.now();
    await this.#db.query(
      "UPDATE embedded_action_jobs SET state = 'pending', attempt = $3, run_at = $4, updated_at = $5 WHERE queue = $1 AND id = $2",
      [this.#name, id, attempt, new Date(now + delayMs), new Date(now)],
    );
  }

  async release(id: string): Promise<void> {
    const now = new Date();
    await this.#db.query("UPDATE embedded_action_jobs SET state = 'pending', run_at = $3, updated_at = $3 WHERE queue = $1 AND id = $2", [
      this.#name,
      id,
      now,
    ]);
  }

  async deadLetter(id: string, reason: string): Promise<void> {
    await this.#db.query("UPDATE embedded_action_jobs SET state = 'dead', reason = $3, updated_at = $4 WHERE queue = $1 AND id = $2", [
      this.#name,
      id,
      reason,
      new Date(),
    ]);
  }

  async deadLetters(options?: { readonly limit?: number }): Promise<DeadLetter[]> {
    const rows = await this.#db.query<{ id: string; data: unknown; reason: string | null; attempt: number; updated_at: Date }>(
      `SELECT id, data, reason, attempt, updated_at FROM embedded_action_jobs
       WHERE queue = $1 AND state = 'dead' ORDER BY updated_at DESC, seq DESC LIMIT $2`,
      [this.#name, options?.limit ?? 100],
    );
    return rows.map((row) => ({ id: row.id, data: row.data, reason: row.reason ?? '', attempts: row.attempt, failedAt: new Date(row.updated_at) }));
  }

  async retryDeadLetter(id: string): Promise<boolean> {
    this.#assertOpen();
    const now = new Date();
    const rows = await this.#db.query(
      `UPDATE embedded_action_jobs SET state = 'pending', attempt = 1, run_at = $3, enqueued_at = $3, updated_at = $3, reason = NULL
       WHERE queue = $1 AND id = $2 AND state = 'dead' RETURNING id`,
      [this.#name, id, now],
    );
    for (const worker of this.#workers) worker.wake();
    return rows.length > 0;
  }

  async state(id: string): Promise<'waiting' | 'delayed' | 'active' | 'completed' | 'dead' | undefined> {
    const [row] = await this.#db.query<{ state: string; run_at: Date }>(
      'SELECT state, run_at FROM embedded_action_jobs WHERE queue = $1 AND id = $2',
      [this.#name, id],
    );
    if (row === undefined) return undefined;
    if (row.state === 'pending') return new Date(row.run_at).getTime() > Date.now() ? 'delayed' : 'waiting';
    return row.state as 'active' | 'completed' | 'dead';
  }

  async #sweepCompleted(): Promise<void> {
    await this.#db.query("DELETE FROM embedded_action_jobs WHERE queue = $1 AND state = 'completed' AND updated_at < $2", [
      this.#name,
      new Date(Date.now() - this.#completedRetentionMs),
    ]);
  }

  async check(): Promise<void> {
    this.#assertOpen();
    await this.#db.check();
  }

  /** Closes the workers; the database stays open (it belongs to the caller). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    await Promise.all([...this.#workers].map((worker) => worker.close()));
  }
}

/** Creates the jobs table if needed and opens the queue on the embedded store. */
export async function createTableActionQueue(options: TableActionQueueOptions): Promise<ActionQueue> {
  const queue = new TableActionQueue(options);
  await queue.open();
  return queue;
}
