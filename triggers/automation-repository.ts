import type { Database } from '../platform/ports/database.ts';
import { validateAutomation, type Automation, type ValidationError } from '../schemas/automation.ts';

/**
 * Automations in PostgreSQL, keyed by name. Every write is validated first and announced with
 * NOTIFY vigil_automations (a table trigger), which the evaluators' catalogs listen to.
 */
export interface StoredAutomation {
  readonly automation: Automation;
  readonly enabled: boolean;
  readonly version: bigint;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type UpsertResult =
  | { ok: true; automation: StoredAutomation; created: boolean; changed: boolean }
  | { ok: false; errors: ValidationError[] };

export interface AutomationRepository {
  list(options?: { enabled?: boolean; tag?: string }): Promise<StoredAutomation[]>;
  get(name: string): Promise<StoredAutomation | null>;
  /** Creates or replaces the automation with this name (idempotent: an identical document changes nothing). */
  upsert(json: unknown): Promise<UpsertResult>;
  /** Pauses or resumes; null when there is no such automation. */
  setEnabled(name: string, enabled: boolean): Promise<StoredAutomation | null>;
  /** Deletes the automation and its trigger state; false when there was none. Firings stay as history. */
  delete(name: string): Promise<boolean>;
}

interface Row {
  name: string;
  definition: Automation;
  enabled: boolean;
  version: bigint;
  created_at: Date;
  updated_at: Date;
}

function toStored(row: Row): StoredAutomation {
  return {
    automation: { ...row.definition, enabled: row.enabled },
    enabled: row.enabled,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const columns = 'name, definition, enabled, version, created_at, updated_at';

export function createAutomationRepository(db: Database): AutomationRepository {
  const get = async (name: string): Promise<StoredAutomation | null> => {
    const [row] = await db.query<Row>(`SELECT ${columns} FROM automations WHERE name = $1`, [name]);
    return row ? toStored(row) : null;
  };
  return {
    async list(options = {}) {
      const rows = await db.query<Row>(
        `SELECT ${columns} FROM automations
         WHERE ($1::boolean IS NULL OR enabled = $1) AND ($2::text IS NULL OR definition->'tags' ? $2)
         ORDER BY name`,
        [options.enabled ?? null, options.tag ?? null],
      );
      return rows.map(toStored);
    },
    get,
    async upsert(json) {
      const result = validateAutomation(json);
      if (!result.ok) return result;
      const a = result.automation;
      return db.transaction(async (tx) => {
        const rows = await tx.query<Row & { created: boolean }>(
          `INSERT INTO automations (name, definition, enabled) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, enabled = EXCLUDED.enabled,
             version = automations.version + 1, updated_at = now()
           WHERE automations.definition IS DISTINCT FROM EXCLUDED.definition OR automations.enabled IS DISTINCT FROM EXCLUDED.enabled
           RETURNING ${columns}, (xmax = 0) AS created`,
          [a.name, JSON.stringify(a), a.enabled],
        );
        const row = rows[0];
        if (!row) {
          const [current] = await tx.query<Row>(`SELECT ${columns} FROM automations WHERE name = $1`, [a.name]);
          return { ok: true, automation: toStored(current!), created: false, changed: false };
        }
        if (!a.enabled) await tx.query('UPDATE trigger_state SET due_at = NULL WHERE automation_name = $1', [a.name]);
        return { ok: true, automation: toStored(row), created: row.created, changed: true };
      });
    },
    async setEnabled(name, enabled) {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<Row>(
          `UPDATE automations SET enabled = $2, definition = jsonb_set(definition, '{enabled}', to_jsonb($2::boolean)),
             version = version + 1, updated_at = now()
           WHERE name = $1 RETURNING ${columns}`,
          [name, enabled],
        );
        if (!row) return null;
        // A paused automation's deadlines do not fire; on resume the deadline timer re-arms them.
        if (!enabled) await tx.query('UPDATE trigger_state SET due_at = NULL WHERE automation_name = $1', [name]);
        return toStored(row);
      });
    },
    async delete(name) {
      return db.transaction(async (tx) => {
        const rows = await tx.query('DELETE FROM automations WHERE name = $1 RETURNING name', [name]);
        await tx.query('DELETE FROM trigger_state WHERE automation_name = $1', [name]);
        return rows.length > 0;
      });
    },
  };
}
