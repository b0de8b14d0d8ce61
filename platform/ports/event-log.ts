import type { VigilEvent } from '../../schemas/event.ts';

/** One event as it sits in the log, with its position. */
export interface LogRecord {
  readonly partition: number;
  /** Position of this record in its partition; the next record has a larger one. */
  readonly offset: bigint;
  /** When the log accepted the record (the event's `received` time). */
  readonly timestamp: Date;
  readonly event: VigilEvent;
}

/** Records handed to a consumer at once, from one or several partitions, in log order per partition. */
export interface LogBatch {
  readonly records: readonly LogRecord[];
  /** Per partition in the batch: the position to resume from after it (last offset + 1). */
  readonly nextPositions: ReadonlyMap<number, bigint>;
}

export interface ConsumeOptions {
  /** Consumer group: members of one group share the partitions; each group sees every event. */
  readonly group: string;
  /**
   * Handles one batch. When it resolves, the batch's positions are committed for the group;
   * when it rejects, nothing is committed and the subscription stops with that error.
   */
  handle(batch: LogBatch): Promise<void>;
  /**
   * For consumers that keep their positions elsewhere (the trigger evaluator commits them in the
   * same database transaction as its state): called whenever partitions are assigned to this
   * member, before any of their records are handed out. Partitions it returns a position for
   * start there; the others start at the group's committed position, or at the beginning.
   */
  positions?(partitions: readonly number[]): Promise<ReadonlyMap<number, bigint>>;
  /** Called with the partitions this member owns after every assignment change. */
  onAssignment?(partitions: readonly number[]): void;
  /** Called when the subscription stops because of an error (handle rejected, log lost). */
  onError?(error: Error): void;
  /** Most records in one batch (default 500). */
  readonly maxBatchSize?: number;
  /**
   * For consumers off the latency path (the event history): how long the log may hold records
   * back to hand them out in fewer, larger batches (default 0: as soon as any arrive). Fewer
   * batches mean fewer fetches, statements and commits for the same events.
   */
  readonly gatherMs?: number;
}

export interface Subscription {
  /** Stops consuming; resolves after the batch in progress is handled and committed. */
  close(): Promise<void>;
}

/** The append-only event log: Kafka in distributed mode, a table in embedded mode. */
export interface EventLog {
  /**
   * True when it is stored in Vigil's own database (embedded mode: PGlite, one connection). It
   * must then not be called inside a database transaction, which holds that one connection.
   */
  readonly sharesDatabase?: boolean;
  /** Number of partitions of the log (events of one resource id always go to the same one). */
  readonly partitions: number;
  /**
   * Appends the events durably, keyed by `resource.id`; resolves only after the log
   * acknowledged every one of them (Kafka: acks=all). Rejects with LogUnavailableError
   * when the log cannot take the write in time; then none of them may be reported accepted.
   */
  append(events: readonly VigilEvent[]): Promise<void>;
  consume(options: ConsumeOptions): Promise<Subscription>;
  /** Every record the log accepted at or after `from` (and before `until`, if given), partition by partition. */
  readSince(from: Date, until?: Date): AsyncIterable<LogRecord>;
  /** Per partition, the position the next appended record will get (the end of the log): consumer lag is measured against it. */
  endPositions(): Promise<ReadonlyMap<number, bigint>>;
  /** Resolves when the log is reachable; rejects with LogUnavailableError otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** The log cannot take or serve data right now; the caller should retry later. */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
}
