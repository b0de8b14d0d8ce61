import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../platform/migrations/migrate.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import type { Database } from '../../platform/ports/database.ts';

/** The PostgreSQL started by scripts/services.sh, unless DATABASE_URL points elsewhere. */
export const serviceDatabaseUrl = process.env.DATABASE_URL ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';

export interface TestDatabase {
  readonly url: string;
  readonly db: Database;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own on the test PostgreSQL, so test files never share state. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `vigil_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serviceDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serviceDatabaseUrl);
  url.pathname = `/${name}`;
  const db = createPostgresDatabase({ url: url.toString(), poolSize: 5, applicationName: 'vigil-test' });
  await migrate(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close();
      const cleanup = new pg.Client({ connectionString: serviceDatabaseUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
