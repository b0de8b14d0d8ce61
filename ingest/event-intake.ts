import { HttpError, invalidItems, type ItemProblem } from '../platform/http/http-error.ts';
import type { Metrics } from '../platform/metrics.ts';
import { LogUnavailableError, type EventLog } from '../platform/ports/event-log.ts';
import { eventLimits } from '../schemas/limits.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { normalizeEvents } from './event-normalizer.ts';

export type EventFormat = 'native' | 'cloudevents' | 'openlineage' | 'prefect';

export interface IntakeBatch {
  readonly format: EventFormat;
  /** Native-form items (already mapped from the source format); undefined where mapping failed. */
  readonly items: readonly unknown[];
  /** Problems found while mapping from the source format. */
  readonly problems?: readonly ItemProblem[];
  /** Translates a native path into the source format's terms for error messages. */
  readonly sourcePath?: (nativePath: string) => string;
  /** Size of the request body the items came from. */
  readonly sourceBytes?: number;
}

export interface IntakeResult {
  readonly accepted: number;
  readonly ids: string[];
}

export interface EventIntake {
  /** Validates the whole batch, then appends it durably. Throws HttpError (413, 422, 503). */
  ingest(batch: IntakeBatch): Promise<IntakeResult>;
}

/** Seconds a client is told to wait before retrying when the log is unavailable. */
const retryAfterSeconds = 5;

export function createEventIntake(options: { log: EventLog; metrics: Metrics; now?: () => Date }): EventIntake {
  const { log, metrics } = options;
  const now = options.now ?? (() => new Date());

  async function append(events: VigilEvent[]): Promise<void> {
    const stopTimer = metrics.appendSeconds.startTimer();
    try {
      await log.append(events);
    } catch (error) {
      metrics.eventsRejected.inc({ reason: 'log_unavailable' }, events.length);
      if (error instanceof LogUnavailableError) {
        throw new HttpError(503, 'event_log_unavailable', `the event log cannot take writes right now (${error.message}); nothing was accepted, retry later`, {
          headers: { 'retry-after': String(retryAfterSeconds) },
        });
      }
      throw error;
    } finally {
      stopTimer();
    }
  }

  return {
    async ingest(batch) {
      if (batch.items.length > eventLimits.maxEventsPerRequest) {
        metrics.eventsRejected.inc({ reason: 'too_large' }, batch.items.length);
        throw new HttpError(413, 'too_many_events', `the request holds ${batch.items.length} events; at most ${eventLimits.maxEventsPerRequest} are allowed per request`);
      }
      if (batch.items.length === 0) {
        throw new HttpError(422, 'invalid_events', 'the request holds no events');
      }
      const result = normalizeEvents(batch.items, now(), batch.sourceBytes);
      const named = new Set<string>();
      const mappingFailed = new Set((batch.problems ?? []).map((problem) => problem.index));
      const problems = [
        ...(batch.problems ?? []),
        ...(result.ok ? [] : result.problems.filter((problem) => !mappingFailed.has(problem.index))),
      ]
        .map((problem) => (batch.sourcePath ? { ...problem, path: batch.sourcePath(problem.path) } : problem))
        // a source field copied into several native fields (a CloudEvent's subject, a job's name) is named once
        .filter((problem) => !named.has(`${problem.index}:${problem.path}`) && Boolean(named.add(`${problem.index}:${problem.path}`)))
        .sort((a, b) => a.index - b.index);
      if (problems.length > 0 || !result.ok) {
        metrics.eventsRejected.inc({ reason: 'invalid' }, batch.items.length);
        throw invalidItems(problems, batch.items.length);
      }
      await append(result.events);
      metrics.eventsAccepted.inc({ format: batch.format }, result.events.length);
      return { accepted: result.events.length, ids: result.events.map((event) => event.id) };
    },
  };
}
