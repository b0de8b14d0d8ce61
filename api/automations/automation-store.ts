import type { Firing } from '../../schemas/api-resources.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { Automation } from '../../schemas/automation.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import type { StoredAutomation } from '../../triggers/index.ts';
import { globToLike, historyRowToEvent, type HistoryEventRow } from '../../history/event-history.ts';

/*
 * What the automations routes read beyond the automation repository (triggers/, the one writer
 * of `automations`): the firings of an automation page by page, and the stored history of a
 * time range for a dry run.
 */

/** An automation as the API shows it: the document with defaults, plus version and times. */
export interface AutomationResource extends Automation {
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export function automationResource(stored: StoredAutomation): AutomationResource {
  const a = stored.automation;
  return {
    name: a.name,
    description: a.description,
    enabled: stored.enabled,
    tags: a.tags,
    trigger: a.trigger,
    actions: a.actions,
    actions_on_resolve: a.actions_on_resolve,
    version: Number(stored.version),
    created_at: stored.createdAt.toISOString(),
    updated_at: stored.updatedAt.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Firings

export type FiringResource = Firing;

interface FiringRow {
  id: string;
  automation_name: string;
  status: 'triggered' | 'resolved';
  triggered_at: Date;
  resolved_at: Date | null;
  for_each: Record<string, string>;
  window_start: Date;
  window_end: Date;
  deadline: Date | null;
  event_count: number;
  event_ids: string[];
  /** triggered_at with microseconds (UTC), for the cursor. */
  position: string;
}

export interface FiringsCursor {
  readonly triggeredAt: string;
  readonly id: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeFiringsCursor(cursor: FiringsCursor): string {
  return Buffer.from(JSON.stringify([cursor.triggeredAt, cursor.id])).toString('base64url');
}

/** The cursor a page's `next` holds; undefined when the text is not one. */
export function decodeFiringsCursor(text: string): FiringsCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && !Number.isNaN(Date.parse(value[0])) && uuidPattern.test(value[1])) {
      return { triggeredAt: value[0], id: value[1] };
    }
  } catch {
    // not a cursor of ours
  }
  return undefined;
}

export interface FiringsFilter {
  /** One automation's firings; every automation's when absent. */
  readonly automation?: string | undefined;
  readonly status?: 'triggered' | 'resolved' | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
}

/** Firings, newest first (triggered_at, then id), `limit` at a time. */
export async function firingsPage(db: Database, filter: FiringsFilter, limit: number, after?: FiringsCursor): Promise<{ firings: FiringResource[]; next?: string }> {
  const params: unknown[] = [];
  const conditions = ['true'];
  const add = (sql: (placeholder: string) => string, value: unknown): void => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (filter.automation !== undefined) add((p) => `automation_name = ${p}`, filter.automation);
  if (filter.status) add((p) => `status = ${p}`, filter.status);
  if (filter.since) add((p) => `triggered_at >= ${p}`, filter.since);
  if (filter.until) add((p) => `triggered_at < ${p}`, filter.until);
  if (after) {
    params.push(after.triggeredAt, after.id);
    conditions.push(`(triggered_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(limit + 1);
  const rows = await db.query<FiringRow>(
    `SELECT id, automation_name, status, triggered_at, resolved_at, for_each, window_start, window_end, deadline, event_count, event_ids,
       to_char(triggered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS position
     FROM firings WHERE ${conditions.join(' AND ')}
     ORDER BY triggered_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, limit);
  const firings = page.map(
    (row): FiringResource => ({
      id: row.id,
      automation_name: row.automation_name,
      status: row.status,
      triggered_at: row.triggered_at.toISOString(),
      resolved_at: row.resolved_at?.toISOString() ?? null,
      for_each: row.for_each,
      window: { start: row.window_start.toISOString(), end: row.window_end.toISOString() },
      count: row.event_count,
      deadline: row.deadline?.toISOString() ?? null,
      event_ids: row.event_ids,
    }),
  );
  const last = page.at(-1);
  return rows.length > limit && last ? { firings, next: encodeFiringsCursor({ triggeredAt: last.position, id: last.id }) } : { firings };
}

/** Whether any firing of this name is recorded (firings outlive their automation). */
export async function hasFirings(db: Database, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM firings WHERE automation_name = $1 LIMIT 1', [name]);
  return rows.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Stored history, for a dry run

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
