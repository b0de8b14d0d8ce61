import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../platform/migrations/migrate.ts';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import type { Database } from '../../platform/ports/database.ts';

export const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';
export const kafkaBrokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:19092').split(',');

export interface TestDatabase {
  readonly url: string;
  readonly db: Database;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database of its own (`vigil_t_<random>`), dropped afterwards. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `vigil_t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const db = createPostgresDatabase({ url: url.toString(), poolSize: 8 });
  await migrate(db);
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close().catch(() => undefined);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    },
  };
}

/** Polls until `check` returns a truthy value (generous timeout; no timing assertions). */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
