import type { Registry } from 'prom-client';
import type { Database } from '../ports/database.ts';
import type { ConsumeOptions, EventLog, LogBatch, LogRecord, Subscription } from '../ports/event-log.ts';
import { unstorableEventProblems } from '../../schemas/event.ts';
import { consumerHealth, type ConsumerProgress } from './consumer-health.ts';
import { createDeadLetters, deadLetterCounter } from './dead-letters.ts';

/**
 * A consumer of the event log that one bad record cannot stop (decision 0601). Every batch goes
 * through the same steps:
 *
 * 1. records that break the intake's storable rule (schemas/storable.ts) — written before the
 *    rule, or by something other than the intake — go to the dead-letter table at once;
 * 2. the rest is handled; when the store rejects the batch AS DATA (isDataError), it is split
 *    in halves, in log order, until the records it rejects are alone: those are dead-lettered,
 *    every other record is handled;
 * 3. anything else (an outage: connection lost, timeout, deadlock) fails the batch as before,
 *    so it is read again later; nothing is dead-lettered for an outage.
 *
 * Each dead letter is counted (vigil_dead_letters_total), logged once without the batch's
 * payloads, and kept once per consumer and log position. The consumer's progress and failures
 * feed consumer-health.ts (/readyz detail, vigil_consumer_lag).
 */
export interface GuardedConsumeOptions extends ConsumeOptions {
  readonly db: Database;
  readonly logger: { error(obj: object, msg?: string): void };
  /** The process's registry: dead letters and consumer health are reported through it. */
  readonly metrics?: Registry | undefined;
}

/** SQLSTATE classes of a store refusing the data itself: 22 data exception, 23 integrity constraint, 54 program limit (a value too large). */
const dataErrorClasses = new Set(['22', '23', '54']);

/**
 * True when an error says the record cannot be stored as it is, so retrying it cannot help:
 * the store refused a value, or handling code met a value it cannot represent (RangeError,
 * e.g. an invalid time; TypeError, a record missing a field).
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return dataErrorClasses.has(code.slice(0, 2));
  return error instanceof RangeError || error instanceof TypeError;
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${error.message}` : `${error.name}: ${error.message}`;
}

function positionsAfter(records: readonly LogRecord[]): Map<number, bigint> {
  const positions = new Map<number, bigint>();
  for (const record of records) positions.set(record.partition, record.offset + 1n);
  return positions;
}

export async function consumeGuarded(log: EventLog, options: GuardedConsumeOptions): Promise<Subscription> {
  const { db, logger, metrics, group } = options;
  const deadLetters = createDeadLetters(db);
  const counter = deadLetterCounter(metrics);
  const progress: ConsumerProgress | undefined = metrics ? consumerHealth(metrics).track(group, log) : undefined;

  async function deadLetter(record: LogRecord, reason: string): Promise<void> {
    if (!(await deadLetters.add(group, record, reason))) return;
    counter?.inc({ consumer: group });
    logger.error(
      { consumer: group, partition: record.partition, offset: record.offset.toString(), event_id: typeof record.event.id === 'string' ? record.event.id.slice(0, 200) : null, reason: reason.slice(0, 500) },
      'a log record could not be stored and was moved to dead_letters (see docs/guides/operations.md)',
    );
  }

  /** Handles `records`, splitting around the ones the store rejects as data. */
  async function handleIsolating(records: readonly LogRecord[], nextPositions: ReadonlyMap<number, bigint>): Promise<boolean> {
    try {
      await options.handle({ records, nextPositions });
      return false;
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (records.length === 1) {
        await deadLetter(records[0]!, reasonOf(error));
        return true;
      }
      if (records.length === 0) throw error;
      const middle = Math.ceil(records.length / 2);
      const left = records.slice(0, middle);
      const right = records.slice(middle);
      const leftSplit = await handleIsolating(left, positionsAfter(left));
      const rightSplit = await handleIsolating(right, positionsAfter(right));
      return leftSplit || rightSplit;
    }
  }

  async function handle(batch: LogBatch): Promise<void> {
    try {
      const storable: LogRecord[] = [];
      for (const record of batch.records) {
        const problems = unstorableEventProblems(record.event);
        if (problems.length === 0) storable.push(record);
        else await deadLetter(record, problems.map((problem) => `${problem.path.join('.') || '(event)'}: ${problem.message}`).join('; '));
      }
      const split = await handleIsolating(storable, batch.nextPositions);
      // After a split, the last records handled may not have been the batch's last: store the
      // batch's positions (a consumer that keeps them with its state needs them).
      if (split) await options.handle({ records: [], nextPositions: batch.nextPositions });
      progress?.advanced(batch.nextPositions);
    } catch (error) {
      progress?.failed(error);
      throw error;
    }
  }

  return log.consume({ ...options, handle });
}
