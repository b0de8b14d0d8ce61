import { Counter, type Registry } from 'prom-client';
import type { LogRecord } from '../ports/event-log.ts';
import type { Sql } from '../ports/database.ts';
import { storableText } from '../../schemas/storable.ts';

/**
 * The dead-letter table (migration 0010): log records a consumer could not store as data. The
 * only module that reads or writes `dead_letters`.
 */
export interface DeadLetter {
  readonly id: string;
  readonly consumer: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly eventId: string | null;
  readonly reason: string;
  /** The event as JSON text (escaped: parse it to get the record back). */
  readonly record: string;
  readonly createdAt: Date;
  readonly replayedAt: Date | null;
}

interface DeadLetterRow {
  id: string;
  consumer: string;
  partition: number;
  log_offset: string;
  event_id: string | null;
  reason: string;
  record: string;
  created_at: Date;
  replayed_at: Date | null;
}

/** Longest reason kept: a database error with its detail, not a whole payload. */
const maxReasonLength = 2_000;

/**
 * The record's event as JSON text. JSON.stringify escapes control characters and lone
 * surrogates, so the text is storable whatever the event holds.
 */
function recordText(record: LogRecord): string {
  return JSON.stringify(record.event) ?? 'null';
}

function eventIdOf(record: LogRecord): string | null {
  const id: unknown = (record.event as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? storableText(id).slice(0, 200) : null;
}

export function deadLetterCounter(registry?: Registry): Counter<'consumer'> | undefined {
  if (!registry) return undefined;
  const existing = registry.getSingleMetric('vigil_dead_letters_total');
  if (existing instanceof Counter) return existing;
  return new Counter({ name: 'vigil_dead_letters_total', help: 'Log records a consumer could not store and kept in dead_letters, by consumer', labelNames: ['consumer'], registers: [registry] });
}

export function createDeadLetters(db: Sql) {
  return {
    /** Keeps the record; true when it was not kept by this consumer before. */
    async add(consumer: string, record: LogRecord, reason: string): Promise<boolean> {
      const rows = await db.query(
        `INSERT INTO dead_letters (consumer, partition, log_offset, event_id, reason, record) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (consumer, partition, log_offset) DO NOTHING RETURNING id`,
        [consumer, record.partition, record.offset.toString(), eventIdOf(record), storableText(reason).slice(0, maxReasonLength), recordText(record)],
      );
      return rows.length > 0;
    },

    /** Dead letters not replayed yet (or all), oldest first. */
    async list(options: { includeReplayed?: boolean; limit?: number } = {}): Promise<DeadLetter[]> {
      const rows = await db.query<DeadLetterRow>(
        `SELECT id::text, consumer, partition, log_offset::text, event_id, reason, record, created_at, replayed_at FROM dead_letters
         ${options.includeReplayed ? '' : 'WHERE replayed_at IS NULL'} ORDER BY id LIMIT $1`,
        [options.limit ?? 100],
      );
      return rows.map((row) => ({
        id: row.id,
        consumer: row.consumer,
        partition: row.partition,
        offset: BigInt(row.log_offset),
        eventId: row.event_id,
        reason: row.reason,
        record: row.record,
        createdAt: row.created_at,
        replayedAt: row.replayed_at,
      }));
    },

    /** Marks dead letters replayed (their corrected events were sent again). */
    async markReplayed(ids: readonly string[]): Promise<number> {
      const rows = await db.query('UPDATE dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[]) AND replayed_at IS NULL RETURNING id', [[...ids]]);
      return rows.length;
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
