import { type ActionJob, decideAfterFailure, type ProcessOptions, type QueueWorker, type RetryPolicy } from '../ports/action-queue.ts';
import { Wakeup } from './wakeup.ts';

/** A job row as a worker claims it. */
export interface JobRow {
  id: string;
  run_at: Date;
  data: unknown;
  policy: RetryPolicy;
  attempt: number;
  enqueued_at: Date;
}

/** What a worker needs of its queue: the job table's state changes, and its settings. */
export interface JobTable {
  readonly pollIntervalMs: number;
  readonly closeGraceMs: number;
  claim(limit: number): Promise<JobRow[]>;
  nextDue(): Promise<Date | undefined>;
  complete(id: string): Promise<void>;
  retryLater(id: string, attempt: number, delayMs: number): Promise<void>;
  release(id: string): Promise<void>;
  deadLetter(id: string, reason: string): Promise<void>;
  forget(worker: TableWorker): void;
}

/**
 * A worker of the embedded action queue: claims due jobs, at most `concurrency` at once, runs
 * them and records the outcome; woken on enqueue, asleep until the next delayed job is due.
 */
export class TableWorker implements QueueWorker {
  readonly #queue: JobTable;
  readonly #options: ProcessOptions;
  readonly #abort = new AbortController();
  readonly #running = new Set<Promise<void>>();
  #closing = false;
  readonly #wakeup = new Wakeup();
  #loop: Promise<void> = Promise.resolve();

  constructor(queue: JobTable, options: ProcessOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.#queue = queue;
    this.#options = options;
  }

  start(): void {
    this.#loop = this.#run();
  }

  wake(): void {
    this.#wakeup.wake();
  }

  async #run(): Promise<void> {
    while (!this.#closing) {
      this.#wakeup.clear(); // the claim below sees whatever woke it
      const free = this.#options.concurrency - this.#running.size;
      let claimed: JobRow[] = [];
      if (free > 0) {
        try {
          claimed = await this.#queue.claim(free);
        } catch {
          claimed = []; // store busy or closing: try again after the poll interval
        }
      }
      for (const row of claimed) {
        const execution = this.#execute(row).finally(() => {
          this.#running.delete(execution);
          this.wake();
        });
        this.#running.add(execution);
      }
      if (this.#closing) break;
      if (claimed.length > 0 && claimed.length === free) continue;
      if (this.#wakeup.signalled) continue;
      let waitMs = this.#queue.pollIntervalMs;
      if (this.#running.size < this.#options.concurrency) {
        const nextDue = await this.#queue.nextDue().catch(() => undefined);
        if (nextDue !== undefined) waitMs = Math.min(waitMs, nextDue.getTime() - Date.now());
      }
      if (this.#closing) continue;
      await this.#wakeup.wait(waitMs);
    }
  }

  async #execute(row: JobRow): Promise<void> {
    const job: ActionJob = {
      id: row.id,
      data: row.data,
      attempt: row.attempt,
      policy: row.policy,
      enqueuedAt: new Date(row.enqueued_at),
    };
    try {
      await this.#options.handle(job, this.#abort.signal);
    } catch (error) {
      if (this.#abort.signal.aborted) {
        // Cut short by closing: the attempt did not really happen; start it again later.
        await this.#queue.release(job.id).catch(() => undefined);
        return;
      }
      const decision = decideAfterFailure(job, error);
      try {
        await this.#options.onFailure?.(job, error, decision);
      } finally {
        if (decision.retry) await this.#queue.retryLater(job.id, job.attempt + 1, decision.delayMs);
        else await this.#queue.deadLetter(job.id, decision.reason);
      }
      return;
    }
    await this.#queue.complete(job.id);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.wake();
    await this.#loop;
    const settled = Promise.allSettled([...this.#running]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#queue.closeGraceMs);
    });
    if ((await Promise.race([settled, grace])) === 'timeout') {
      this.#abort.abort(new Error('the worker is closing'));
      await settled;
    }
    clearTimeout(timer);
    this.#queue.forget(this);
  }
}
