import { Counter, Histogram, type Registry } from 'prom-client';
import { createBackgroundWork } from '../platform/background-work.ts';
import type { Logger } from '../platform/logger.ts';
import type { Database } from '../platform/ports/database.ts';
import { PermanentActionError, type ActionJob, type ActionQueue, type FailureDecision } from '../platform/ports/action-queue.ts';
import { action as actionSchema, type Action, type ActionKind } from '../schemas/action.ts';
import { parseDuration } from '../schemas/durations.ts';
import { createConnectionsRepository } from './connections.ts';
import { scrub, trackingConnections } from './secret-scrubbing.ts';
import { actionLifecycleEvent } from './action-lifecycle-events.ts';
import type { AutomationSwitch, EmitEvents, ExecutionContext, Executor } from './executor.ts';
import { createHttpClient } from './http.ts';
import { executors } from './kinds/index.ts';
import { outboxJobFromData, type OutboxJob } from './outbox-job.ts';
import { createTokenCache } from './orchestrators/token-cache.ts';
import { createChannelPacer } from './pacing.ts';
import { responseOf } from './retry-policy.ts';
import { isUuid } from '../schemas/uuid.ts';
import { storableText } from '../schemas/storable.ts';
import { createRunRecords } from './run-records.ts';
import { createEgressGuard, type EgressOptions } from './egress-guard.ts';
import { templateScope } from './templates.ts';

/*
 * The action workers: take jobs from the action queue, run the action kind's executor
 * (actions/kinds/<kind>.ts) with the job's firing context, and record every attempt in
 * `action_runs`. The queue decides retries and dead letters (platform/ports/action-queue.ts);
 * this module reports each decision: `retrying` with the next attempt's time, or `failed` (the
 * dead-letter list) with the reason. Lifecycle events `vigil.action.started|succeeded|failed`
 * go to the event log through `emit`.
 *
 * Execution is at least once: a run already recorded as succeeded is not executed again, and
 * every outgoing call carries the run id as its idempotency key.
 */

export interface ActionWorkersOptions {
  readonly db: Database;
  readonly queue: ActionQueue;
  /** Appends events to the event log (EventLog.append). */
  readonly emit: EmitEvents;
  /** Pauses and resumes automations (pause-automation, resume-automation). */
  readonly automations: AutomationSwitch;
  readonly logger: Logger;
  /** Actions run at once by this process (default 64). */
  readonly concurrency?: number;
  /** VIGIL_SECRET_KEY (base64 of 32 bytes): decrypts connections. Actions needing a connection fail without it. */
  readonly secretKey?: string | Uint8Array;
  /** Egress guard settings for outgoing requests. */
  readonly egress?: EgressOptions;
  /** Prometheus registry for `vigil_actions_total` and `vigil_action_duration_seconds`. */
  readonly metrics?: Registry;
  /** Response bodies are kept up to this many characters (default 2,000). */
  readonly maxResponseBodyChars?: number;
}

export interface ActionWorkers {
  close(): Promise<void>;
}

interface AttemptTiming {
  readonly startedAt: number;
  readonly kind: string;
  /** Secret values of the connections this attempt resolved: scrubbed from what is recorded. */
  readonly secrets: Set<string>;
}

/** A text as recorded on the run: secrets scrubbed, then shortened to `max` characters. */
function recorded(text: string | undefined, secrets: ReadonlySet<string>, max: number): string | null {
  return text === undefined ? null : storableText(truncate(scrub(text, secrets)!, max));
}

function kindOf(outbox: OutboxJob | undefined): string {
  const kind = (outbox?.action as { kind?: unknown } | null | undefined)?.kind;
  return typeof kind === 'string' ? kind : 'unknown';
}

function truncate(text: string | undefined, max: number): string | null {
  if (text === undefined) return null;
  return text.length > max ? `${text.slice(0, max)}…[truncated ${text.length - max} chars]` : text;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Validated actions by their stored JSON: an automation's actions repeat in every firing, and
 * validation parses every Liquid template, so it is done once per distinct action.
 */
const parsedActions = new Map<string, Action>();

function parseStoredAction(stored: unknown): Action {
  const key = JSON.stringify(stored);
  const cached = parsedActions.get(key);
  if (cached) return cached;
  const parsed = actionSchema.safeParse(stored);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentActionError(`the stored action is invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown error'}`);
  }
  if (parsedActions.size >= 5_000) parsedActions.delete(parsedActions.keys().next().value!);
  parsedActions.set(key, parsed.data);
  return parsed.data;
}

function createMetrics(registry: Registry | undefined) {
  if (!registry) return undefined;
  return {
    actions: new Counter({
      name: 'vigil_actions_total',
      help: 'Action attempts by kind and outcome (succeeded, retried, failed)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'vigil_action_duration_seconds',
      help: 'Duration of one action attempt, by kind',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

export async function startActionWorkers(options: ActionWorkersOptions): Promise<ActionWorkers> {
  const { db, queue, emit, logger } = options;
  const maxBody = options.maxResponseBodyChars ?? 2_000;
  const guard = createEgressGuard(options.egress);
  const http = createHttpClient(guard.dispatcher);
  const connections = createConnectionsRepository(db, options.secretKey);
  const pacer = createChannelPacer();
  const tokens = createTokenCache();
  const metrics = createMetrics(options.metrics);
  const timings = new Map<string, AttemptTiming>();
  const runs = createRunRecords(db);

  /** Lifecycle events on their way to the log; close() waits for them. */
  const emitting = createBackgroundWork();

  /**
   * Sends lifecycle events without holding the job's slot: the event log's round trip (Kafka
   * acks=all) would otherwise add to every action's time in the queue and cap throughput at
   * concurrency / round trip. Appends keep their call order, so `started` precedes the outcome.
   */
  function emitInBackground(events: Parameters<EmitEvents>[0]): void {
    emitting.start(emit(events), (error) => {
      // The run record is the source of truth; a lifecycle event that cannot be logged must not re-run the action.
      logger.warn({ err: error, events: events.map((event) => event.event) }, 'action lifecycle event could not be emitted');
    });
  }

  async function handle(job: ActionJob, signal: AbortSignal): Promise<void> {
    let outbox: OutboxJob;
    try {
      outbox = outboxJobFromData(job.data);
    } catch (error) {
      throw new PermanentActionError(messageOf(error));
    }
    const kindName = kindOf(outbox);
    const secrets = new Set<string>();
    timings.set(job.id, { startedAt: performance.now(), kind: kindName, secrets });

    if (!isUuid(job.id)) throw new PermanentActionError(`job id "${job.id}" is not an action run id (a UUID)`);
    // Record the attempt; a run that already succeeded (a duplicate delivery) is not executed again.
    const attempt = await runs.start({
      id: job.id,
      firingId: outbox.firing_id,
      automationName: outbox.automation_name,
      phase: outbox.phase,
      actionIndex: outbox.action_index,
      kind: kindName,
    });
    if (attempt === null) {
      timings.delete(job.id);
      logger.info({ runId: job.id }, 'action run already succeeded; duplicate delivery skipped');
      return;
    }
    emitInBackground([actionLifecycleEvent('started', outbox, kindName, attempt, { status: 'running' })]);

    const action = parseStoredAction(outbox.action);
    const executor = executors[action.kind] as Executor<ActionKind> | undefined;
    if (!executor) throw new PermanentActionError(`no executor for action kind "${action.kind}"`);
    const context: ExecutionContext = {
      action,
      job: outbox,
      runId: job.id,
      attempt,
      scope: templateScope(outbox.context, { run: { id: job.id, attempt } }),
      timeoutMs: parseDuration(action.timeout) ?? 10_000,
      signal,
      http,
      connections: trackingConnections(connections, secrets),
      automations: options.automations,
      db,
      emit,
      pacer,
      tokens,
      logger,
    };
    const result = await executor(context);

    const timing = timings.get(job.id);
    timings.delete(job.id);
    const durationMs = timing ? Math.round(performance.now() - timing.startedAt) : null;
    await runs.succeed({
      id: job.id,
      durationMs,
      responseStatus: result.responseStatus ?? null,
      responseBody: recorded(result.responseBody, secrets, maxBody),
      result: result.result ? scrub(JSON.stringify(result.result, (_key, value: unknown) => (typeof value === 'string' ? storableText(value) : value)), secrets) : null,
    });
    metrics?.actions.inc({ kind: action.kind, outcome: 'succeeded' });
    if (durationMs !== null) metrics?.duration.observe({ kind: action.kind }, durationMs / 1000);
    logger.info(
      { runId: job.id, kind: action.kind, automation: outbox.automation_name, attempt, durationMs },
      `action ${action.kind} of ${outbox.automation_name} succeeded${durationMs === null ? '' : ` in ${durationMs} ms`}${result.responseStatus === undefined ? '' : ` (HTTP ${result.responseStatus})`}`,
    );
    emitInBackground([
      actionLifecycleEvent('succeeded', outbox, action.kind, attempt, {
        status: 'succeeded',
        duration_ms: durationMs,
        ...(result.responseStatus === undefined ? {} : { response_status: result.responseStatus }),
      }),
    ]);
  }

  async function onFailure(job: ActionJob, error: unknown, decision: FailureDecision): Promise<void> {
    let outbox: OutboxJob | undefined;
    try {
      outbox = outboxJobFromData(job.data);
    } catch {
      outbox = undefined;
    }
    const timing = timings.get(job.id);
    timings.delete(job.id);
    const durationMs = timing ? Math.round(performance.now() - timing.startedAt) : null;
    const kind = timing?.kind ?? kindOf(outbox);
    const secrets = timing?.secrets ?? new Set<string>();
    const response = responseOf(error);
    const message = scrub(messageOf(error), secrets)!;
    const reason = decision.retry ? message : scrub(decision.reason, secrets)!;
    const attempts = await runs.fail({
      id: job.id,
      status: decision.retry ? 'retrying' : 'failed',
      retryDelayMs: decision.retry ? decision.delayMs : 0,
      error: truncate(reason, 4_000)!,
      durationMs,
      responseStatus: response?.status ?? null,
      responseBody: recorded(response?.body, secrets, maxBody),
    });
    metrics?.actions.inc({ kind, outcome: decision.retry ? 'retried' : 'failed' });
    if (durationMs !== null) metrics?.duration.observe({ kind }, durationMs / 1000);
    const logFields = { runId: job.id, kind, attempt: attempts ?? job.attempt, error: message };
    if (decision.retry) {
      logger.info({ ...logFields, retryInMs: decision.delayMs }, `action ${kind} attempt failed; will retry in ${Math.round(decision.delayMs / 1000)} s: ${message}`);
      return;
    }
    logger.warn({ ...logFields, reason }, `action ${kind} failed for good (dead-lettered): ${reason}`);
    if (outbox) {
      emitInBackground([
        actionLifecycleEvent('failed', outbox, kind, attempts ?? job.attempt, {
          status: 'failed',
          error: truncate(reason, 1_000),
          ...(response ? { response_status: response.status } : {}),
        }),
      ]);
    }
  }

  const worker = await queue.process({ concurrency: options.concurrency ?? 64, handle, onFailure });
  return {
    async close() {
      await worker.close();
      await emitting.settled();
      await guard.close();
    },
  };
}
