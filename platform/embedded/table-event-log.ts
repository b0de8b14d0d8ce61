import type { Database, Sql } from '../ports/database.ts';
import {
  type ConsumeOptions,
  type EventLog,
  type LogBatch,
  type LogRecord,
  LogUnavailableError,
  type Subscription,
} from '../ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { partitionFor } from './partitioner.ts';
import { type Group, Member, type MemberLog } from './table-log-member.ts';
import { asError } from '../as-error.ts';

/**
 * The EventLog port on tables of the embedded store (zero-setup mode, no Kafka).
 *
 * - A fixed partition count, stored with the log; an event's partition is the Kafka-compatible
 *   murmur2 hash of its `resource.id` (see partitioner.ts), so a resource keeps its partition.
 * - `append` commits one transaction (WAL written before it resolves) with the records and the
 *   partitions' next offsets; offsets are dense per partition and never reused, even after
 *   retention deleted old records.
 * - Consumer groups commit their positions to a table. Members of one group *in this process*
 *   share the partitions (round-robin, rebalanced eagerly on join and leave: every member
 *   finishes its batch before partitions move). There is no membership across processes: the
 *   embedded store belongs to one process (a lock file enforces it).
 * - Consumers are woken in-process right after an append commits, with a fallback poll.
 *
 * The tables are created by the adapter (not by the shared migrations): they are this
 * adapter's private storage, like the Kafka topic is the Kafka adapter's (docs/decisions/0301).
 */
export interface TableEventLogOptions {
  readonly db: Database;
  /** Partition count of a new log (default 4). An existing log keeps its own; a different value is an error. */
  readonly partitions?: number;
  /** Consumers look for new records at least this often even without a wake-up (default 1000 ms). */
  readonly pollIntervalMs?: number;
  /** Records older than this are deleted (default 7 days, like Kafka's default retention); 0 keeps everything. */
  readonly retentionMs?: number;
  /** `append` rejects with LogUnavailableError when the store has not committed it by then (default 10 s). */
  readonly appendTimeoutMs?: number;
}

const defaultPartitions = 4;
const readPageSize = 1000;

const schema = `
CREATE TABLE IF NOT EXISTS embedded_event_log (
  partition   integer     NOT NULL,
  "offset"    bigint      NOT NULL,
  appended_at timestamptz NOT NULL,
  event       json        NOT NULL,
  PRIMARY KEY (partition, "offset")
);
CREATE INDEX IF NOT EXISTS embedded_event_log_appended_at ON embedded_event_log (appended_at);
CREATE TABLE IF NOT EXISTS embedded_event_log_partitions (
  partition   integer PRIMARY KEY,
  next_offset bigint  NOT NULL
);
CREATE TABLE IF NOT EXISTS embedded_event_log_positions (
  consumer_group text        NOT NULL,
  partition      integer     NOT NULL,
  next_offset    bigint      NOT NULL,
  committed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, partition)
)`;

interface RecordRow {
  partition: number;
  offset: bigint;
  appended_at: Date;
  event: VigilEvent;
}

function toRecord(row: RecordRow): LogRecord {
  return { partition: row.partition, offset: BigInt(row.offset), timestamp: new Date(row.appended_at), event: row.event };
}

function unavailable(what: string, error: unknown): LogUnavailableError {
  if (error instanceof LogUnavailableError) return error;
  return new LogUnavailableError(`${what}: ${asError(error).message}`, { cause: error });
}

class TableEventLog implements EventLog, MemberLog {
  readonly partitions: number;
  readonly sharesDatabase = true;
  readonly pollIntervalMs: number;
  readonly #db: Database;
  readonly #appendTimeoutMs: number;
  readonly #nextOffsets: bigint[];
  readonly #groups = new Map<string, Group>();
  #appending: Promise<unknown> = Promise.resolve();
  #retentionTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(db: Database, partitions: number, nextOffsets: bigint[], options: TableEventLogOptions) {
    this.#db = db;
    this.partitions = partitions;
    this.#nextOffsets = nextOffsets;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#appendTimeoutMs = options.appendTimeoutMs ?? 10_000;
    const retentionMs = options.retentionMs ?? 7 * 24 * 3_600_000;
    if (retentionMs > 0) {
      const sweep = (): void => {
        this.deleteBefore(new Date(Date.now() - retentionMs)).catch(() => undefined);
      };
      this.#retentionTimer = setInterval(sweep, Math.min(3_600_000, Math.max(1000, retentionMs / 10)));
      this.#retentionTimer.unref();
    }
  }

  async append(events: readonly VigilEvent[]): Promise<void> {
    if (this.#closed) throw new LogUnavailableError('the event log is closed');
    if (events.length === 0) return;
    const partitions: number[] = [];
    const timestamps: string[] = [];
    const bodies: string[] = [];
    for (const event of events) {
      partitions.push(partitionFor(event.resource.id, this.partitions));
      const received = Date.parse(event.received);
      timestamps.push(new Date(Number.isNaN(received) ? Date.now() : received).toISOString());
      bodies.push(JSON.stringify(event));
    }
    // Offsets are handed out in commit order: appends run one after the other.
    const attempt = this.#appending.then(() => this.#appendInOrder(partitions, timestamps, bodies));
    this.#appending = attempt.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LogUnavailableError(`the embedded store did not commit the append within ${this.#appendTimeoutMs} ms`)), this.#appendTimeoutMs);
    });
    try {
      await Promise.race([attempt, timeout]);
    } catch (error) {
      throw unavailable('appending to the embedded event log failed', error);
    } finally {
      clearTimeout(timer);
    }
    for (const group of this.#groups.values()) for (const member of group.members) member.wake();
  }

  async #appendInOrder(partitions: number[], timestamps: string[], bodies: string[]): Promise<void> {
    const next = [...this.#nextOffsets];
    const offsets = partitions.map((partition) => {
      const offset = next[partition]!;
      next[partition] = offset + 1n;
      return offset.toString();
    });
    const touched = [...new Set(partitions)];
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO embedded_event_log (partition, "offset", appended_at, event)
         SELECT * FROM unnest($1::integer[], $2::bigint[], $3::timestamptz[], $4::json[])`,
        [partitions, offsets, timestamps, bodies],
      );
      await tx.query(
        `UPDATE embedded_event_log_partitions AS p SET next_offset = t.next_offset
         FROM unnest($1::integer[], $2::bigint[]) AS t(partition, next_offset) WHERE p.partition = t.partition`,
        [touched, touched.map((partition) => next[partition]!.toString())],
      );
    });
    for (const partition of touched) this.#nextOffsets[partition] = next[partition]!;
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    if (this.#closed) throw new LogUnavailableError('the event log is closed');
    let group = this.#groups.get(options.group);
    if (group === undefined) {
      group = { name: options.group, members: [], rebalancing: Promise.resolve() };
      this.#groups.set(options.group, group);
    }
    const member = new Member(this, group, options);
    group.members.push(member);
    member.start();
    await this.#rebalance(group);
    return member;
  }

  async leave(group: Group, member: Member): Promise<void> {
    const index = group.members.indexOf(member);
    if (index < 0) return;
    group.members.splice(index, 1);
    if (group.members.length === 0 && this.#groups.get(group.name) === group) this.#groups.delete(group.name);
    await this.#rebalance(group);
  }

  /** Eager rebalance: every member finishes its batch, then partitions are dealt round-robin. */
  async #rebalance(group: Group): Promise<void> {
    const run = group.rebalancing.then(async () => {
      const members = group.members.filter((member) => !member.stopped);
      await Promise.all(members.map((member) => member.pause()));
      members.forEach((member, index) => {
        const partitions: number[] = [];
        for (let partition = index; partition < this.partitions; partition += members.length) partitions.push(partition);
        member.resume(partitions);
      });
    });
    group.rebalancing = run.catch(() => undefined);
    await run;
  }

  async committedPositions(group: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
    const rows = await this.#db.query<{ partition: number; next_offset: bigint }>(
      'SELECT partition, next_offset FROM embedded_event_log_positions WHERE consumer_group = $1 AND partition = ANY($2::integer[])',
      [group, [...partitions]],
    );
    return new Map(rows.map((row) => [row.partition, BigInt(row.next_offset)]));
  }

  /** Up to `limit` records from the partitions' positions on, taken round-robin so each partition advances. */
  async fetch(partitions: readonly number[], positions: ReadonlyMap<number, bigint>, limit: number): Promise<LogBatch> {
    const rows = await this.#db.query<RecordRow>(
      `SELECT l.partition, l."offset", l.appended_at, l.event
       FROM (
         SELECT r.partition, r."offset", row_number() OVER (PARTITION BY r.partition ORDER BY r."offset") AS rank
         FROM unnest($1::integer[], $2::bigint[]) AS c(partition, start)
         CROSS JOIN LATERAL (
           SELECT partition, "offset" FROM embedded_event_log
           WHERE partition = c.partition AND "offset" >= c.start ORDER BY "offset" LIMIT $3
         ) AS r
         ORDER BY rank, r.partition LIMIT $3
       ) AS picked
       JOIN embedded_event_log AS l ON l.partition = picked.partition AND l."offset" = picked."offset"
       ORDER BY picked.rank, picked.partition`,
      [[...partitions], partitions.map((partition) => (positions.get(partition) ?? 0n).toString()), limit],
    );
    const byPartition = new Map<number, LogRecord[]>();
    for (const row of rows) {
      const record = toRecord(row);
      const list = byPartition.get(record.partition);
      if (list === undefined) byPartition.set(record.partition, [record]);
      else list.push(record);
    }
    const lists = [...byPartition.values()];
    const records: LogRecord[] = [];
    for (let index = 0; records.length < limit; index += 1) {
      let added = false;
      for (const list of lists) {
        const record = list[index];
        if (record === undefined) continue;
        added = true;
        records.push(record);
        if (records.length >= limit) break;
      }
      if (!added) break;
    }
    const nextPositions = new Map<number, bigint>();
    for (const record of records) nextPositions.set(record.partition, record.offset + 1n);
    return { records, nextPositions };
  }

  async commit(group: string, positions: ReadonlyMap<number, bigint>): Promise<void> {
    const partitions = [...positions.keys()];
    await this.#db.query(
      `INSERT INTO embedded_event_log_positions (consumer_group, partition, next_offset)
       SELECT $1, t.partition, t.next_offset FROM unnest($2::integer[], $3::bigint[]) AS t(partition, next_offset)
       ON CONFLICT (consumer_group, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, committed_at = now()`,
      [group, partitions, partitions.map((partition) => positions.get(partition)!.toString())],
    );
  }

  async *readSince(from: Date, until?: Date): AsyncIterable<LogRecord> {
    for (let partition = 0; partition < this.partitions; partition += 1) {
      let after = -1n;
      for (;;) {
        const rows = await this.#db.query<RecordRow>(
          `SELECT partition, "offset", appended_at, event FROM embedded_event_log
           WHERE partition = $1 AND "offset" > $2 AND appended_at >= $3 AND ($4::timestamptz IS NULL OR appended_at < $4)
           ORDER BY "offset" LIMIT $5`,
          [partition, after.toString(), from, until ?? null, readPageSize],
        );
        for (const row of rows) yield toRecord(row);
        if (rows.length < readPageSize) break;
        after = BigInt(rows.at(-1)!.offset);
      }
    }
  }

  /** Retention: deletes the records appended before `before`; returns how many. */
  async deleteBefore(before: Date): Promise<number> {
    const rows = await this.#db.query<{ deleted: bigint }>(
      'WITH gone AS (DELETE FROM embedded_event_log WHERE appended_at < $1 RETURNING 1) SELECT count(*) AS deleted FROM gone',
      [before],
    );
    return Number(rows[0]?.deleted ?? 0n);
  }

  endPositions(): Promise<ReadonlyMap<number, bigint>> {
    // One process owns the embedded log: the next offsets it hands out are the end.
    return Promise.resolve(new Map(this.#nextOffsets.map((offset, partition) => [partition, offset])));
  }

  async check(): Promise<void> {
    if (this.#closed) throw new LogUnavailableError('the event log is closed');
    try {
      await this.#db.check();
    } catch (error) {
      throw unavailable('the embedded store does not answer', error);
    }
  }

  /** Stops every subscription; the database stays open (it belongs to the caller). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#retentionTimer);
    const members = [...this.#groups.values()].flatMap((group) => group.members);
    await Promise.allSettled(members.map((member) => member.close()));
    await this.#appending;
  }
}

/** Creates the log's tables if needed and opens the log on the embedded store. */
export async function createTableEventLog(options: TableEventLogOptions): Promise<EventLog & { deleteBefore(before: Date): Promise<number> }> {
  const requested = options.partitions;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > 1024)) {
    throw new RangeError(`partitions must be an integer from 1 to 1024, got ${requested}`);
  }
  const { partitions, nextOffsets } = await options.db.transaction(async (tx: Sql) => {
    await tx.query(schema);
    const rows = await tx.query<{ partition: number; next_offset: bigint }>(
      'SELECT partition, next_offset FROM embedded_event_log_partitions ORDER BY partition',
    );
    if (rows.length === 0) {
      const count = requested ?? defaultPartitions;
      await tx.query('INSERT INTO embedded_event_log_partitions (partition, next_offset) SELECT p, 0 FROM generate_series(0, $1::integer - 1) AS p', [count]);
      return { partitions: count, nextOffsets: Array.from({ length: count }, () => 0n) };
    }
    if (requested !== undefined && requested !== rows.length) {
      throw new Error(
        `the embedded event log has ${rows.length} partitions, not the ${requested} configured: the partition count of a log is fixed`,
      );
    }
    return { partitions: rows.length, nextOffsets: rows.map((row) => BigInt(row.next_offset)) };
  });
  return new TableEventLog(options.db, partitions, nextOffsets, options);
}
