/**
 * The contract every Database adapter passes (PostgreSQL through `pg`, and PGlite). Register it
 * from an adapter's test file:
 *
 *   describeDatabaseContract('postgres', async () => ({ db, cleanup }));
 *
 * `openDatabase` returns a database with nothing in it (a fresh database or PGlite instance) and
 * `cleanup` closes and removes it. No timing assertions: tests wait for conditions by polling.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { loadMigrations, migrate } from '../../platform/migrations/migrate.ts';
import type { Database } from '../../platform/ports/database.ts';

export interface OpenedDatabase {
  readonly db: Database;
  cleanup(): Promise<void>;
}

const waitTimeoutMs = 30_000;

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + waitTimeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${waitTimeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export function describeDatabaseContract(name: string, openDatabase: () => Promise<OpenedDatabase>): void {
  describe(`Database contract: ${name}`, () => {
    async function withDatabase(body: (db: Database) => Promise<void>): Promise<void> {
      const opened = await openDatabase();
      try {
        await body(opened.db);
      } finally {
        await opened.cleanup();
      }
    }

    test('query runs one statement with $n parameters and returns its rows', async () => {
      await withDatabase(async (db) => {
        await db.query('CREATE TABLE t (id integer PRIMARY KEY, label text, flag boolean, note text)');
        await db.query('INSERT INTO t (id, label, flag, note) VALUES ($1, $2, $3, $4), ($5, $6, $7, $8)', [
          1, "it's \"quoted\" ; DROP TABLE t", true, null, 2, 'two', false, 'x',
        ]);
        const rows = await db.query<{ id: number; label: string; flag: boolean; note: string | null }>(
          'SELECT id, label, flag, note FROM t WHERE id = ANY($1::integer[]) ORDER BY id',
          [[1, 2]],
        );
        assert.deepEqual(rows, [
          { id: 1, label: "it's \"quoted\" ; DROP TABLE t", flag: true, note: null },
          { id: 2, label: 'two', flag: false, note: 'x' },
        ]);
        assert.deepEqual(await db.query('SELECT 1 AS one WHERE false'), []);
      });
    });

    test('multi-statement text without parameters runs as one call (migrations)', async () => {
      await withDatabase(async (db) => {
        await db.query(`CREATE TABLE m (id integer);
          INSERT INTO m VALUES (1);
          INSERT INTO m VALUES (2);`);
        assert.deepEqual(await db.query('SELECT id FROM m ORDER BY id'), [{ id: 1 }, { id: 2 }]);
      });
    });

    test('bigint columns round-trip as JS bigint beyond 2^53', async () => {
      await withDatabase(async (db) => {
        const big = 9_007_199_254_740_993n; // 2^53 + 1
        await db.query('CREATE TABLE b (v bigint NOT NULL)');
        await db.query('INSERT INTO b (v) VALUES ($1), ($2)', [big, -big]);
        const rows = await db.query<{ v: bigint }>('SELECT v FROM b ORDER BY v');
        assert.deepEqual(rows, [{ v: -big }, { v: big }]);
        const [count] = await db.query<{ n: bigint }>('SELECT count(*) AS n FROM b');
        assert.equal(count?.n, 2n);
      });
    });

    test('jsonb parameters and columns round-trip objects; timestamptz comes back as Date', async () => {
      await withDatabase(async (db) => {
        const document = { name: 'sales', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null }, text: 'ü 🚀 "q"' };
        const at = new Date('2026-11-22T08:59:00.123Z');
        await db.query('CREATE TABLE j (doc jsonb NOT NULL, at timestamptz NOT NULL)');
        await db.query('INSERT INTO j (doc, at) VALUES ($1, $2)', [JSON.stringify(document), at]);
        const [row] = await db.query<{ doc: unknown; at: Date; name: string }>("SELECT doc, at, doc->>'name' AS name FROM j");
        assert.deepEqual(row?.doc, document);
        assert.equal(row?.name, 'sales');
        assert.ok(row?.at instanceof Date);
        assert.equal(row.at.getTime(), at.getTime());
      });
    });

    test('a failing statement rejects with the PostgreSQL error code', async () => {
      await withDatabase(async (db) => {
        await db.query('CREATE TABLE u (id text PRIMARY KEY)');
        await db.query('INSERT INTO u VALUES ($1)', ['a']);
        await assert.rejects(db.query('INSERT INTO u VALUES ($1)', ['a']), (error: unknown) => {
          assert.equal((error as { code?: string }).code, '23505');
          return true;
        });
        await db.check();
      });
    });

    test('a transaction commits when its work resolves and rolls back when it rejects', async () => {
      await withDatabase(async (db) => {
        await db.query('CREATE TABLE tx (id integer PRIMARY KEY)');
        const result = await db.transaction(async (tx) => {
          await tx.query('INSERT INTO tx VALUES ($1)', [1]);
          await tx.query('INSERT INTO tx VALUES ($1)', [2]);
          return 'done';
        });
        assert.equal(result, 'done');
        const failure = new Error('work failed');
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO tx VALUES ($1)', [3]);
            throw failure;
          }),
          (error) => error === failure,
        );
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('INSERT INTO tx VALUES ($1)', [4]);
            await tx.query('INSERT INTO tx VALUES ($1)', [1]); // duplicate key
          }),
          (error: unknown) => (error as { code?: string }).code === '23505',
        );
        assert.deepEqual(await db.query('SELECT id FROM tx ORDER BY id'), [{ id: 1 }, { id: 2 }]);
      });
    });

    test('callers outside an open transaction neither see its writes nor share its fate', async () => {
      await withDatabase(async (db) => {
        await db.query('CREATE TABLE iso (id integer PRIMARY KEY)');
        const inside = gate();
        const release = gate();
        const transaction = db.transaction(async (tx) => {
          await tx.query('INSERT INTO iso VALUES ($1)', [1]);
          inside.open();
          await release.promise;
          await tx.query('INSERT INTO iso VALUES ($1)', [2]);
          throw new Error('roll back');
        });
        await inside.promise;
        // Issued while the transaction is open; neither may run inside it.
        const seen = db.query<{ n: bigint }>('SELECT count(*) AS n FROM iso WHERE id < 100');
        const outsideWrite = db.query('INSERT INTO iso VALUES ($1)', [100]);
        const outsideTransaction = db.transaction(async (tx) => {
          await tx.query('INSERT INTO iso VALUES ($1)', [200]);
        });
        release.open();
        await assert.rejects(transaction, /roll back/);
        await outsideWrite;
        await outsideTransaction;
        assert.equal((await seen)[0]?.n, 0n, 'the open transaction’s row is invisible outside it');
        assert.deepEqual(await db.query('SELECT id FROM iso ORDER BY id'), [{ id: 100 }, { id: 200 }]);
      });
    });

    test('many concurrent transactions each commit or roll back on their own', async () => {
      await withDatabase(async (db) => {
        await db.query('CREATE TABLE c (id integer PRIMARY KEY)');
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, index) =>
            db.transaction(async (tx) => {
              await tx.query('INSERT INTO c VALUES ($1)', [index]);
              await new Promise((resolve) => setImmediate(resolve));
              await tx.query('INSERT INTO c VALUES ($1)', [1000 + index]);
              if (index % 2 === 1) throw new Error(`odd ${index}`);
            }),
          ),
        );
        assert.equal(results.filter((result) => result.status === 'rejected').length, 10);
        const rows = await db.query<{ id: number }>('SELECT id FROM c ORDER BY id');
        const even = Array.from({ length: 10 }, (_, index) => index * 2);
        assert.deepEqual(
          rows.map((row) => row.id),
          [...even, ...even.map((id) => 1000 + id)],
        );
      });
    });

    test('listen receives NOTIFY after commit, nothing from a rolled-back transaction, nothing after unlisten', async () => {
      await withDatabase(async (db) => {
        const channel = `vigil_test_${randomUUID().slice(0, 8)}`;
        const received: string[] = [];
        const unlisten = await db.listen(channel, (payload) => received.push(payload));
        await db.query('SELECT pg_notify($1, $2)', [channel, 'plain']);
        await waitUntil(() => received.includes('plain'), 'the plain notification');

        const sent = gate();
        const release = gate();
        const committed = db.transaction(async (tx) => {
          await tx.query('SELECT pg_notify($1, $2)', [channel, 'committed']);
          sent.open();
          await release.promise;
        });
        await sent.promise;
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.ok(!received.includes('committed'), 'not delivered before the commit');
        release.open();
        await committed;
        await waitUntil(() => received.includes('committed'), 'the committed notification');

        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query('SELECT pg_notify($1, $2)', [channel, 'rolled-back']);
            throw new Error('roll back');
          }),
        );
        await db.query('SELECT pg_notify($1, $2)', [channel, 'marker']);
        await waitUntil(() => received.includes('marker'), 'the marker notification');
        assert.deepEqual(received, ['plain', 'committed', 'marker']);

        await unlisten();
        await db.query('SELECT pg_notify($1, $2)', [channel, 'after-unlisten']);
        const other: string[] = [];
        const unlistenOther = await db.listen(`${channel}_other`, (payload) => other.push(payload));
        await db.query('SELECT pg_notify($1, $2)', [`${channel}_other`, 'sync']);
        await waitUntil(() => other.includes('sync'), 'a notification on another channel');
        await unlistenOther();
        assert.deepEqual(received, ['plain', 'committed', 'marker']);
      });
    });

    test('migrate() applies every migration once and is idempotent', async () => {
      await withDatabase(async (db) => {
        const versions = (await loadMigrations()).map((migration) => migration.version);
        assert.deepEqual(await migrate(db), versions);
        assert.deepEqual(await migrate(db), []);
        const rows = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
        assert.deepEqual(
          rows.map((row) => row.version),
          versions,
        );
      });
    });

    test('check() resolves while the database answers', async () => {
      await withDatabase(async (db) => {
        await db.check();
      });
    });
  });
}
