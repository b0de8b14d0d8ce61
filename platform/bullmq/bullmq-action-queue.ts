import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import {
  decideAfterFailure,
  type ActionJob,
  type ActionQueue,
  type DeadLetter,
  type EnqueueRequest,
  type ProcessOptions,
  type QueueWorker,
  type RetryPolicy,
} from '../ports/action-queue.ts';

export interface BullmqActionQueueOptions {
  /** redis://[user:password@]host:port[/db] or rediss://… */
  readonly redisUrl: string;
  /** BullMQ queue name (default `vigil.actions`). */
  readonly queueName?: string;
  /** Redis key prefix (default `vigil`). Tests use a unique one per file. */
  readonly prefix?: string;
  /**
   * How long a worker holds a job lock without renewing it (default 30 s). A worker that dies
   * mid-job loses the lock after this long; another worker's stalled check then restarts the job.
   */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose worker died (default 30 s). */
  readonly stalledIntervalMs?: number;
  /** Times a job may be restarted after its worker died before it is dead-lettered (default 3). */
  readonly maxStalledCount?: number;
  /**
   * Completed jobs are kept for inspection this long (default 1 h) and at most this many
   * (default 1,000). Correctness does not need them: a job re-enqueued after its run succeeded
   * is skipped by the worker, which finds the run `succeeded` in `action_runs`. (A retention by
   * age alone kept every job of the last day — gigabytes of Redis at a thousand actions a second.)
   */
  readonly keepCompletedMs?: number;
  readonly keepCompletedCount?: number;
  /** Dead letters are kept this long (default 30 days). */
  readonly keepDeadMs?: number;
  /** An enqueue not acknowledged by Redis within this time rejects (default 5 s). */
  readonly enqueueTimeoutMs?: number;
  /** Called with errors of the Redis connections (they reconnect on their own). */
  readonly onError?: (error: Error) => void;
}

/** What is stored as a BullMQ job's data. */
interface Envelope {
  /** The caller's payload. */
  readonly d: unknown;
  /** The retry policy. */
  readonly p: RetryPolicy;
  /** When the job was enqueued or retried from the dead-letter list (ms since epoch): origin of max age. */
  readonly o: number;
}

/** Thrown to BullMQ to retry with the delay the shared policy decided. */
class DecidedRetry extends Error {
  override readonly name = 'DecidedRetry';
  readonly delayMs: number;
  constructor(message: string, delayMs: number) {
    super(message);
    this.delayMs = delayMs;
  }
}

function redisConnection(url: string, forProducer: boolean): Record<string, unknown> {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db,
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // Producers fail fast while Redis is away (the outbox keeps the work); workers wait for it.
    ...(forProducer ? { maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null }),
    retryStrategy: (times: number) => Math.min(200 * times, 2_000),
  };
}

function toEnvelope(value: unknown): Envelope {
  return value as Envelope;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The ActionQueue port on BullMQ (Redis). */
/** Opens without waiting for Redis: while it is away, enqueue rejects and workers wait for it. */
export function openBullmqActionQueue(options: BullmqActionQueueOptions): Promise<ActionQueue> {
  const name = options.queueName ?? 'vigil.actions';
  const prefix = options.prefix ?? 'vigil';
  const onError = options.onError ?? (() => undefined);
  const keepCompleted = { age: Math.ceil((options.keepCompletedMs ?? 3_600_000) / 1000), count: options.keepCompletedCount ?? 1_000 };
  const keepDeadS = Math.ceil((options.keepDeadMs ?? 30 * 24 * 3_600_000) / 1000);
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? 5_000;
  const maxStalledCount = options.maxStalledCount ?? 3;

  const queue = new Queue(name, {
    connection: redisConnection(options.redisUrl, true),
    prefix,
  });
  queue.on('error', onError);
  /** Closes each worker started by `process` (and waits for its pending failure reports). */
  const closers = new Set<() => Promise<void>>();

  async function findDead(id: string): Promise<Job | undefined> {
    const job = (await queue.getJob(id)) as Job | undefined;
    if (!job) return undefined;
    return (await job.isFailed()) ? job : undefined;
  }

  return Promise.resolve({
    async enqueue(jobs: readonly EnqueueRequest[]): Promise<void> {
      if (jobs.length === 0) return;
      const now = Date.now();
      await withTimeout(
        queue.addBulk(
          jobs.map((job) => ({
            name: 'action',
            data: { d: job.data, p: job.policy, o: now } satisfies Envelope,
            opts: {
              jobId: job.id,
              attempts: Math.max(1, job.policy.attempts),
              backoff: { type: 'vigil' },
              delay: job.delayMs ?? 0,
              removeOnComplete: keepCompleted,
              removeOnFail: { age: keepDeadS },
            },
          })),
        ),
        enqueueTimeoutMs,
        'enqueue',
      );
    },

    async process(processOptions: ProcessOptions): Promise<QueueWorker> {
      /** Errors the processor below threw; a `failed` event with any other error was not seen by onFailure. */
      const decided = new WeakSet<Error>();
      /** onFailure calls made from `failed` events, awaited by close. */
      const reports = new Set<Promise<void>>();
      const toActionJob = (job: Job): ActionJob => {
        const envelope = toEnvelope(job.data);
        return {
          id: job.id ?? '',
          data: envelope.d,
          attempt: job.attemptsMade + 1,
          policy: envelope.p,
          enqueuedAt: new Date(envelope.o),
        };
      };
      const worker = new Worker(
        name,
        async (job: Job, _token?: string, signal?: AbortSignal) => {
          const actionJob = toActionJob(job);
          try {
            await processOptions.handle(actionJob, signal ?? new AbortController().signal);
          } catch (error) {
            const decision = decideAfterFailure(actionJob, error);
            if (processOptions.onFailure) {
              await processOptions.onFailure(actionJob, error, decision).catch((hookError: unknown) => {
                onError(hookError instanceof Error ? hookError : new Error(String(hookError)));
              });
            }
            const thrown = decision.retry
              ? new DecidedRetry(error instanceof Error ? error.message : String(error), decision.delayMs)
              : new UnrecoverableError(decision.reason);
            decided.add(thrown);
            throw thrown;
          }
        },
        {
          connection: redisConnection(options.redisUrl, false),
          prefix,
          concurrency: Math.max(1, processOptions.concurrency),
          lockDuration: options.lockDurationMs ?? 30_000,
          stalledInterval: options.stalledIntervalMs ?? 30_000,
          maxStalledCount,
          settings: {
            backoffStrategy: (_attemptsMade: number, _type?: string, error?: Error) =>
              error instanceof DecidedRetry ? error.delayMs : 0,
          },
        },
      );
      // BullMQ fails some jobs without running the processor: a job whose workers died (or lost
      // its lock) more than maxStalledCount times is failed by the next worker that takes it.
      // Report those through onFailure too, so the run record says dead-lettered and why.
      worker.on('failed', (job: Job | undefined, error: Error) => {
        if (!job || decided.has(error) || !processOptions.onFailure) return;
        const reason = /stalled more than allowable limit/.test(error.message)
          ? `the worker running it stopped mid-attempt ${maxStalledCount + 1} time${maxStalledCount === 0 ? '' : 's'} (crashed, was killed or stopped renewing its lock), more than the ${maxStalledCount} restart${maxStalledCount === 1 ? '' : 's'} allowed (${error.message})`
          : `the queue failed the job: ${error.message}`;
        const actionJob = toActionJob(job);
        const report = processOptions.onFailure(actionJob, error, { retry: false, reason }).catch((hookError: unknown) => {
          onError(hookError instanceof Error ? hookError : new Error(String(hookError)));
        });
        reports.add(report);
        void report.finally(() => reports.delete(report));
      });
      worker.on('error', onError);
      await worker.waitUntilReady();
      const close = async () => {
        await worker.close();
        await Promise.all(reports);
      };
      closers.add(close);
      return {
        async close() {
          closers.delete(close);
          await close();
        },
      };
    },

    async deadLetters(listOptions?: { readonly limit?: number }): Promise<DeadLetter[]> {
      const limit = listOptions?.limit ?? 100;
      const jobs = (await queue.getFailed(0, limit - 1)) as Job[];
      return jobs.map((job) => ({
        id: job.id ?? '',
        data: toEnvelope(job.data).d,
        reason: job.failedReason,
        attempts: job.attemptsMade,
        failedAt: new Date(job.finishedOn ?? job.timestamp),
      }));
    },

    async retryDeadLetter(id: string): Promise<boolean> {
      const job = await findDead(id);
      if (!job) return false;
      const envelope = toEnvelope(job.data);
      await job.updateData({ ...envelope, o: Date.now() } satisfies Envelope);
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    },

    async state(id: string) {
      const state = await queue.getJobState(id);
      switch (state) {
        case 'waiting':
        case 'prioritized':
        case 'waiting-children':
          return 'waiting';
        case 'delayed':
          return 'delayed';
        case 'active':
          return 'active';
        case 'completed':
          return 'completed';
        case 'failed':
          return 'dead';
        default:
          return undefined;
      }
    },

    async check(): Promise<void> {
      await withTimeout(queue.getJobCountByTypes('wait'), 2_000, 'redis check');
    },

    async close(): Promise<void> {
      await Promise.all([...closers].map((close) => close()));
      closers.clear();
      await queue.close();
    },
  });
}
