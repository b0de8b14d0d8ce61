/**
 * The Database contract on PGlite (in memory), plus what is specific to the embedded store:
 * persistence in a directory, how a new directory is made (template copy or initdb), the
 * one-process lock, and the deadlock guard for calls on the database from inside a transaction.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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

  test('makes a new store by initdb when the template is unusable, and by copying a template otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-pglite-'));
    try {
      // A leftover of an interrupted creation is cleared away.
      await mkdir(join(dir, 'made-by-initdb.creating-999999999'), { recursive: true });
      const first = await openPgliteDatabase({ dataDir: join(dir, 'made-by-initdb'), template: join(dir, 'no-such-template') });
      assert.equal(first.createdFrom, 'initdb');
      await first.query('CREATE TABLE from_the_template (v text)');
      await first.query(`INSERT INTO from_the_template VALUES ('copied')`);
      await first.close();
      assert.deepEqual((await readdir(dir)).sort(), ['made-by-initdb']);

      const copy = await openPgliteDatabase({ dataDir: join(dir, 'copy'), template: join(dir, 'made-by-initdb') });
      try {
        assert.equal(copy.createdFrom, 'template');
        assert.deepEqual(await copy.query('SELECT v FROM from_the_template'), [{ v: 'copied' }]);
        const [settings] = await copy.query<{ shared_buffers: string }>('SELECT current_setting($1) AS shared_buffers', ['shared_buffers']);
        assert.equal(settings?.shared_buffers, '16MB');
      } finally {
        await copy.close();
      }
      const reopened = await openPgliteDatabase({ dataDir: join(dir, 'copy') });
      assert.equal(reopened.createdFrom, undefined, 'an existing store is opened, not created');
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses a non-empty directory that is not a store, and takes over the lock of a dead process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-pglite-'));
    const dataDir = join(dir, 'store');
    try {
      await mkdir(dataDir);
      await writeFile(join(dataDir, 'notes.txt'), 'not a database');
      await assert.rejects(openPgliteDatabase({ dataDir, template: false }), /not empty but holds no embedded store/);

      await rm(dataDir, { recursive: true });
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      await writeFile(`${dataDir}.lock`, String(dead));
      const db = await openPgliteDatabase({ dataDir });
      try {
        await assert.rejects(openPgliteDatabase({ dataDir }), /already open in this process/);
      } finally {
        await db.close();
      }
      assert.deepEqual((await readdir(dir)).sort(), ['store'], 'no lock or temporary files left');
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
