import type { Firing } from '../../schemas/api-resources.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { Automation } from '../../schemas/automation.ts';
import type { StoredAutomation } from '../../triggers/index.ts';
import { encodePageCursor, type PageCursor } from '../../schemas/page-cursor.ts';

/*
 * What the automations routes read beyond the automation repository (triggers/, the one writer
 * of `automations`): the firings of an automation page by page.
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
