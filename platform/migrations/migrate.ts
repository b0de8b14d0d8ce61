import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../ports/database.ts';

const migrationsDir = import.meta.dirname;
/** Arbitrary constant: one migrator at a time across every Vigil process sharing the database. */
const migrationLockKey = 7_700_001;

export interface Migration {
  readonly version: string;
  readonly sql: string;
}

/** The SQL migrations shipped with Vigil, `NNNN_name.sql`, in order. */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => ({ version: file.replace(/\.sql$/, ''), sql: await readFile(join(migrationsDir, file), 'utf8') })),
  );
}

/**
 * Applies the migrations not applied yet, all in one transaction (a failing migration leaves
 * none of them applied), under a transaction-scoped advisory lock so that several processes
 * starting together migrate once. Returns the versions applied.
 */
export async function migrate(db: Database): Promise<string[]> {
  const migrations = await loadMigrations();
  return db.transaction(async (tx) => {
    // Migrations may wait for another process's and may take long: no session bound applies here.
    await tx.query("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0");
    await tx.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).map((row) => row.version),
    );
    const newlyApplied: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
      newlyApplied.push(migration.version);
    }
    return newlyApplied;
  });
}
