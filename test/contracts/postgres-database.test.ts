/**
 * The Database contract on PostgreSQL through `pg` (DATABASE_URL, default the local test server
 * of scripts/services.sh). Each test gets its own database, `vigil_t_<random>`, dropped after it.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresDatabase } from '../../platform/postgres/postgres-database.ts';
import { describeDatabaseContract } from './database-contract.ts';

const adminUrl = process.env['DATABASE_URL'] ?? 'postgres://vigil:vigil@127.0.0.1:54329/vigil';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describeDatabaseContract('postgres', async () => {
  const name = `vigil_t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await admin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = createPostgresDatabase({ url: url.toString(), poolSize: 5 });
  return {
    db,
    async cleanup() {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
});
