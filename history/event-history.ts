import type { Database, Sql } from '../platform/ports/database.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { encodePageCursor, type PageCursor } from '../schemas/page-cursor.ts';

/** Filters of GET /api/events and its live stream; all optional, AND-ed. */
export interface EventFilter {
  /** occurred ≥ since */
  readonly since?: Date;
  /** occurred < until */
  readonly until?: Date;
  /** Event-name glob: `*` matches any characters; a leading `!` negates. */
  readonly event?: string;
  readonly resourceId?: string;
  /** Resource labels that must be equal. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface StoredEvent extends VigilEvent {
  /** Insertion order in the history: the stream's and the cursor's position. */
  readonly seq: bigint;
}

/** The columns of an event_history row that make up the event. */
export interface HistoryEventRow {
  received: Date;
  id: string;
  occurred: Date;
  event: string;
  resource: VigilEvent['resource'];
  related: VigilEvent['related'];
  payload: VigilEvent['payload'];
  follows: string | null;
}

interface EventRow extends HistoryEventRow {
  seq: bigint;
}

/** An event_history row as the event it stores. */
function historyRowToEvent(row: HistoryEventRow): VigilEvent {
  return {
    id: row.id,
    occurred: row.occurred.toISOString(),
    received: row.received.toISOString(),
    event: row.event,
    resource: row.resource,
    related: row.related,
    payload: row.payload,
    ...(row.follows !== null ? { follows: row.follows } : {}),
  };
}

function toEvent(row: EventRow): StoredEvent {
  return { ...historyRowToEvent(row), seq: row.seq };
}

/** A glob as a LIKE pattern: `*` → `%`, LIKE's own wildcards escaped. */
function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (char) => `\\${char}`).replace(/\*/g, '%');
}

/** The SQL conditions and parameters of a filter, numbered after `offset` parameters. */
function whereClause(filter: EventFilter, params: unknown[]): string {
  const conditions: string[] = [];
  const add = (sql: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (filter.since) add((p) => `occurred >= ${p}`, filter.since);
  if (filter.until) add((p) => `occurred < ${p}`, filter.until);
  if (filter.event) {
    const negated = filter.event.startsWith('!');
    const pattern = globToLike(negated ? filter.event.slice(1) : filter.event);
    add((p) => `event ${negated ? 'NOT ' : ''}LIKE ${p}`, pattern);
  }
  if (filter.resourceId) add((p) => `resource_id = ${p}`, filter.resourceId);
  if (filter.labels && Object.keys(filter.labels).length > 0) add((p) => `resource @> ${p}::jsonb`, JSON.stringify(filter.labels));
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** Ids are unique per (received, id); a page cursor is the last row's (occurred, id). */
export function createEventHistory(db: Database) {
  return {
    /** Writes a batch; rows already present (a redelivered record) are skipped. */
    async write(tx: Sql, events: readonly VigilEvent[]): Promise<void> {
      if (events.length === 0) return;
      await tx.query(
        `INSERT INTO event_history (received, id, occurred, event, resource_id, resource, related, payload, follows)
         SELECT e.received, e.id, e.occurred, e.event, e.resource->>'id', e.resource, e.related, e.payload, e.follows
         FROM jsonb_to_recordset($1::jsonb) AS e(received timestamptz, id text, occurred timestamptz, event text, resource jsonb, related jsonb, payload jsonb, follows text)
         ON CONFLICT (received, id) DO NOTHING`,
        [JSON.stringify(events)],
      );
    },

    /** Newest first by occurred time; `after` continues from a previous page's cursor. */
    async page(filter: EventFilter, limit: number, after?: PageCursor): Promise<{ events: StoredEvent[]; next?: string }> {
      const params: unknown[] = [];
      let where = whereClause(filter, params);
      if (after) {
        params.push(after.at, after.id);
        const keyset = `(occurred, id) < ($${params.length - 1}::timestamptz, $${params.length})`;
        where = where ? `${where} AND ${keyset}` : `WHERE ${keyset}`;
      }
      params.push(limit + 1);
      const rows = await db.query<EventRow>(
        `SELECT received, id, occurred, event, resource, related, payload, follows, seq FROM event_history ${where}
         ORDER BY occurred DESC, id DESC LIMIT $${params.length}`,
        params,
      );
      const events = rows.slice(0, limit).map(toEvent);
      const last = events.at(-1);
      return rows.length > limit && last ? { events, next: encodePageCursor({ at: last.occurred, id: last.id }) } : { events };
    },

    /** Events inserted after position `seq`, oldest first: the live stream's source. */
    async after(seq: bigint, limit: number): Promise<StoredEvent[]> {
      const rows = await db.query<EventRow>(
        'SELECT received, id, occurred, event, resource, related, payload, follows, seq FROM event_history WHERE seq > $1 ORDER BY seq LIMIT $2',
        [seq, limit],
      );
      return rows.map(toEvent);
    },

    /** The latest position, where a new stream starts. */
    async latestSeq(): Promise<bigint> {
      const rows = await db.query<{ seq: bigint | null }>('SELECT max(seq) AS seq FROM event_history');
      return rows[0]?.seq ?? 0n;
    },

    /** Creates the daily partitions from `from` for `days` days (idempotent). */
    async ensurePartitions(from: Date, days: number): Promise<void> {
      for (let day = 0; day < days; day++) {
        const start = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() + day));
        const end = new Date(start.getTime() + 86_400_000);
        const name = `event_history_${start.toISOString().slice(0, 10).replaceAll('-', '')}`;
        const exists = await db.query('SELECT 1 FROM pg_class WHERE relname = $1', [name]);
        if (exists.length > 0) continue;
        await db
          .query(`CREATE TABLE ${name} PARTITION OF event_history FOR VALUES FROM ('${start.toISOString()}') TO ('${end.toISOString()}')`)
          .catch((error: unknown) => {
            // Another persister created it first, or rows for that day already sit in the
            // default partition (then they stay there until retention removes them).
            if (!(error instanceof Error) || !/already exists|would be violated|updated partition constraint/.test(error.message)) throw error;
          });
      }
    },

    /** Drops the daily partitions wholly older than `before`, and old rows of the default partition. */
    async dropBefore(before: Date): Promise<string[]> {
      const partitions = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'event_history' AND c.relname ~ '^event_history_[0-9]{8}$'`,
      );
      const cutoff = before.toISOString().slice(0, 10).replaceAll('-', '');
      const dropped: string[] = [];
      for (const { name } of partitions) {
        // a partition named for day D holds [D, D+1): drop it when D+1 ≤ cutoff day
        const day = name.slice('event_history_'.length);
        if (day < cutoff) {
          await db.query(`DROP TABLE IF EXISTS ${name}`);
          dropped.push(name);
        }
      }
      await db.query('DELETE FROM event_history_default WHERE received < $1', [before]);
      return dropped;
    },
  };
}

export type EventHistory = ReturnType<typeof createEventHistory>;

// ---------------------------------------------------------------------------------------------
// A time range of the stored history, replayed by a dry run (oldest first)

/** A time range of the history and the event names a trigger listens to. */
export interface HistoryRange {
  readonly since: Date;
  readonly until: Date;
  /** Event-name globs (no `!`) the trigger listens to; null: every name. */
  readonly names: readonly string[] | null;
}

function historyWhere(range: HistoryRange, params: unknown[]): string {
  params.push(range.since, range.until);
  const conditions = ['occurred >= $1', 'occurred < $2'];
  if (range.names) {
    const likes = range.names.map((glob) => {
      params.push(globToLike(glob));
      return `event LIKE $${params.length}`;
    });
    conditions.push(`(${likes.join(' OR ')})`);
  }
  return conditions.join(' AND ');
}

/** How many stored events the range holds, counting no further than `cap` + 1. */
export async function countHistory(db: Database, range: HistoryRange, cap: number): Promise<number> {
  const params: unknown[] = [];
  const where = historyWhere(range, params);
  params.push(cap + 1);
  const [row] = await db.query<{ n: bigint }>(`SELECT count(*) AS n FROM (SELECT 1 FROM event_history WHERE ${where} LIMIT $${params.length}) s`, params);
  return Number(row?.n ?? 0);
}

interface HistoryRow extends HistoryEventRow {
  /** occurred with microseconds, for the keyset. */
  position: string;
  received_position: string;
}

/** The stored events of the range, oldest first by occurred (then id, then received), `pageSize` at a time. */
export async function* readHistory(db: Database, range: HistoryRange, pageSize = 5_000): AsyncGenerator<VigilEvent[]> {
  let after: { occurred: string; id: string; received: string } | null = null;
  for (;;) {
    const params: unknown[] = [];
    let where = historyWhere(range, params);
    if (after) {
      params.push(after.occurred, after.id, after.received);
      where += ` AND (occurred, id, received) > ($${params.length - 2}::timestamptz, $${params.length - 1}, $${params.length}::timestamptz)`;
    }
    params.push(pageSize);
    const rows: HistoryRow[] = await db.query<HistoryRow>(
      `SELECT received, id, occurred, event, resource, related, payload, follows,
         to_char(occurred AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position,
         to_char(received AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_position
       FROM event_history WHERE ${where} ORDER BY occurred, id, received LIMIT $${params.length}`,
      params,
    );
    if (rows.length > 0) {
      yield rows.map(historyRowToEvent);
    }
    const last = rows.at(-1);
    if (rows.length < pageSize || !last) return;
    after = { occurred: last.position, id: last.id, received: last.received_position };
  }
}
