import type { Database } from '../../platform/ports/database.ts';
import type { Firing } from '../../schemas/api-resources.ts';
import { encodePageCursor, type PageCursor } from '../../schemas/page-cursor.ts';

/* The firings of an automation as the API lists them, newest first, a page at a time. */

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

export interface FiringsFilter {
  /** One automation's firings; every automation's when absent. */
  readonly automation?: string | undefined;
  readonly status?: 'triggered' | 'resolved' | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
}

/** Firings, newest first (triggered_at, then id), `limit` at a time. */
export async function firingsPage(db: Database, filter: FiringsFilter, limit: number, after?: PageCursor): Promise<{ firings: FiringResource[]; next?: string }> {
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
    params.push(after.at, after.id);
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
  return rows.length > limit && last ? { firings, next: encodePageCursor({ at: last.position, id: last.id }) } : { firings };
}

/** Whether any firing of this name is recorded (firings outlive their automation). */
export async function hasFirings(db: Database, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM firings WHERE automation_name = $1 LIMIT 1', [name]);
  return rows.length > 0;
}
