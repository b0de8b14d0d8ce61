/**
 * The Database contract on PGlite (in memory), plus what is specific to the embedded store:
 * persistence in a directory, the one-process lock, and the deadlock guard for calls on the
 * database from inside a transaction.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openPgliteDatabase, StoreLockedError } from '../../platform/embedded/pglite-database.ts';
import { describeDatabaseContract } from './database-contract.ts';

describeDatabaseContract('pglite', async () => {
  const db = await openPgliteDatabase();
  return { db, cleanup: () => db.close() };
});

describe('PGlite database', () => {
  test('keeps its data in the directory across a reopen, and locks it against a second opener', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-pglite-'));
    const dataDir = join(dir, 'store');
    try {
      const db = await openPgliteDatabase({ dataDir });
      await db.query('CREATE TABLE kept (v bigint)');
      await db.query('INSERT INTO kept VALUES ($1)', [42n]);
      await assert.rejects(openPgliteDatabase({ dataDir }), StoreLockedError);
      await db.close();

      const reopened = await openPgliteDatabase({ dataDir });
      try {
        assert.deepEqual(await reopened.query('SELECT v FROM kept'), [{ v: 42n }]);
        const [settings] = await reopened.query<{ shared_buffers: string }>('SELECT current_setting($1) AS shared_buffers', ['shared_buffers']);
        assert.equal(settings?.shared_buffers, '16MB', 'the tuned settings apply');
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('calling the database instead of tx inside a transaction fails instead of deadlocking', async () => {
    const db = await openPgliteDatabase();
    try {
      await assert.rejects(
        db.transaction(async () => {
          await db.query('SELECT 1');
        }),
        /inside a transaction/,
      );
      // After the transaction, the same code path works again.
      assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
