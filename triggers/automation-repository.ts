import type { Database } from '../platform/ports/database.ts';
import { validateAutomation, type Automation, type ValidationError } from '../schemas/automation.ts';
import { deleteStates, disarmDeadlines } from './trigger-state-store.ts';

/**
 * Automations in PostgreSQL, keyed by name: the one module that writes the `automations` table
 * (the API, the CLI through it, and the pause-automation and resume-automation actions all go
 * through it). Every write is validated first and announced with NOTIFY vigil_automations (a
 * table trigger), which the evaluators' catalogs listen to. Every pause, whichever way it
 * comes, sets `enabled` in the column and the stored document alike and disarms the
 * automation's deadlines.
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
  /** Inserts a validated automation; false when one of that name exists (nothing is changed then). */
  create(automation: Automation): Promise<boolean>;
  /**
   * Merges the fields into the stored document (and `enabled` into its column). Nothing is
   * written — no version bump, no NOTIFY — when the result equals what is stored. False when
   * there is no such automation.
   */
  patch(name: string, patch: AutomationPatch): Promise<boolean>;
  /** Pauses or resumes; null when there is no such automation. */
  setEnabled(name: string, enabled: boolean): Promise<StoredAutomation | null>;
  /** Deletes the automation and its trigger state; false when there was none. Firings stay as history. */
  delete(name: string): Promise<boolean>;
}

/** The fields a partial update may change. */
export interface AutomationPatch {
  readonly enabled?: boolean | undefined;
  readonly description?: string | undefined;
  readonly tags?: readonly string[] | undefined;
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
        if (!a.enabled) await disarmDeadlines(tx, a.name);
        return { ok: true, automation: toStored(row), created: row.created, changed: true };
      });
    },
    async create(automation) {
      const rows = await db.query('INSERT INTO automations (name, definition, enabled) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name', [
        automation.name,
        JSON.stringify(automation),
        automation.enabled,
      ]);
      return rows.length > 0;
    },
    async patch(name, patch) {
      const fields: Record<string, unknown> = {};
      if (patch.enabled !== undefined) fields['enabled'] = patch.enabled;
      if (patch.description !== undefined) fields['description'] = patch.description;
      if (patch.tags !== undefined) fields['tags'] = patch.tags;
      return db.transaction(async (tx) => {
        const exists = await tx.query('SELECT 1 FROM automations WHERE name = $1 FOR UPDATE', [name]);
        if (exists.length === 0) return false;
        const updated = await tx.query(
          `UPDATE automations SET definition = definition || $2::jsonb, enabled = COALESCE($3::boolean, enabled), version = version + 1, updated_at = now()
           WHERE name = $1 AND ((definition || $2::jsonb) IS DISTINCT FROM definition OR enabled IS DISTINCT FROM COALESCE($3::boolean, enabled))
           RETURNING name`,
          [name, JSON.stringify(fields), patch.enabled ?? null],
        );
        if (updated.length > 0 && patch.enabled === false) await disarmDeadlines(tx, name);
        return true;
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
        if (!enabled) await disarmDeadlines(tx, name);
        return toStored(row);
      });
    },
    async delete(name) {
      return db.transaction(async (tx) => {
        const rows = await tx.query('DELETE FROM automations WHERE name = $1 RETURNING name', [name]);
        await deleteStates(tx, name);
        return rows.length > 0;
      });
    },
  };
}
