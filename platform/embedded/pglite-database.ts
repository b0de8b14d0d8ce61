import { AsyncLocalStorage } from 'node:async_hooks';
import { access, link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { Database, Sql } from '../ports/database.ts';
import { createStoreDirectory, isAlive, type StoreSource } from './store-creation.ts';

/**
 * PostgreSQL settings for the embedded store, chosen by measurement (docs/decisions/0300):
 * PGlite's defaults (shared_buffers 128 MB and friends) cost 400–800 MB resident memory after
 * a few thousand inserts. These keep `vigil start` well under the 400 MB target.
 */
const embeddedPostgresSettings: Readonly<Record<string, string>> = {
  shared_buffers: '16MB',
  wal_buffers: '1MB',
  work_mem: '4MB',
  maintenance_work_mem: '16MB',
  temp_buffers: '4MB',
  // Commits wait for their WAL to be written (durable against a killed process); never off:
  // PGlite runs single-user, there is no WAL writer to flush an asynchronous commit later.
  synchronous_commit: 'on',
  // Fewer, cheaper checkpoints: single-user mode checkpoints inline on the caller's query.
  max_wal_size: '64MB',
  min_wal_size: '32MB',
  checkpoint_timeout: '300s',
};

export interface PgliteDatabaseOptions {
  /** Directory of the store (created if missing); in memory when absent (tests). */
  readonly dataDir?: string;
  /** PostgreSQL settings (GUCs) overriding {@link embeddedPostgresSettings}. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Use PGlite's own defaults instead of the tuned settings (benchmarks only). */
  readonly untuned?: boolean;
  /**
   * PGlite's `relaxedDurability` (benchmarks only). With the Node filesystem it changes nothing
   * measurable: writes go straight to the files; see docs/decisions/0300.
   */
  readonly relaxedDurability?: boolean;
  /**
   * How a new store directory is made: a template data directory to copy, or `false` to run
   * initdb; default: the template prepared at install time when present, else initdb
   * (store-creation.ts, docs/decisions/0300).
   */
  readonly template?: string | false;
}

/** The Database port plus the PGlite instance, for adapters that share the embedded store. */
export interface PgliteDatabase extends Database {
  readonly pglite: PGlite;
  readonly dataDir: string | undefined;
  /** How this open made the store: copied from the template, or by initdb; undefined when it existed (or in memory). */
  readonly createdFrom: StoreSource | undefined;
}

/** The store is already open in a live process; two PGlite instances on one directory corrupt it. */
export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
}

interface TransactionScope {
  open: boolean;
}

/** PGlite's start parameters with the tuned settings ({@link embeddedPostgresSettings}) appended. */
export function embeddedStartParams(settings: Readonly<Record<string, string>> = embeddedPostgresSettings): string[] {
  return [...PGlite.defaultStartParams, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

function startParams(options: PgliteDatabaseOptions): string[] | undefined {
  if (options.untuned === true && options.settings === undefined) return undefined;
  return embeddedStartParams({ ...(options.untuned === true ? {} : embeddedPostgresSettings), ...options.settings });
}


function lockedError(storeDir: string, owner: number, lockPath: string): StoreLockedError {
  return new StoreLockedError(
    `the embedded store ${storeDir} is in use by process ${owner} (another Vigil on the same data directory?): ` +
      `one process at a time may open it (lock file ${lockPath})`,
  );
}

async function readOwner(path: string): Promise<number | undefined> {
  const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  return Number.isInteger(owner) && owner > 0 ? owner : undefined;
}

/** Creates `lockPath` as a hard link to `prepared` (a file holding this pid); EEXIST when it exists. */
async function createLockFile(prepared: string, lockPath: string): Promise<void> {
  try {
    await link(prepared, lockPath);
  } catch (error) {
    // Filesystems without hard links: create it exclusively and write it (briefly empty).
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    const handle = await open(lockPath, 'wx');
    try {
      await handle.writeFile(String(process.pid));
    } finally {
      await handle.close();
    }
  }
}

/**
 * One process per store directory: a lock file beside it holding the owner's pid. It is created
 * complete (written aside, then hard-linked into place), so that a reader never sees it empty; a
 * lock of a dead process is moved aside before it is removed, so that two processes taking over
 * the same stale lock cannot remove each other's new one.
 */
async function lockStore(storeDir: string): Promise<() => Promise<void>> {
  const lockPath = `${storeDir}.lock`;
  await mkdir(dirname(lockPath), { recursive: true });
  const mine = `${lockPath}.${process.pid}`;
  await writeFile(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      try {
        await createLockFile(mine, lockPath);
        return async () => {
          await rm(lockPath, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await readOwner(lockPath);
      if (owner === process.pid) throw new StoreLockedError(`the embedded store ${storeDir} is already open in this process`);
      if (owner !== undefined && isAlive(owner)) throw lockedError(storeDir, owner, lockPath);
      // Left behind by a process that died: move it aside, and check that it is the dead one.
      const aside = `${lockPath}.stale-${process.pid}`;
      try {
        await rename(lockPath, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const moved = await readOwner(aside);
      if (moved !== undefined && moved !== owner && isAlive(moved)) {
        // Another process took the stale lock over meanwhile: give its lock back.
        await link(aside, lockPath).catch(() => undefined);
        await rm(aside, { force: true });
        throw lockedError(storeDir, moved, lockPath);
      }
      await rm(aside, { force: true });
    }
    throw new StoreLockedError(`could not lock the embedded store ${storeDir} (lock file ${lockPath})`);
  } finally {
    await rm(mine, { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function runText<Row>(target: Pick<PGlite | Transaction, 'query' | 'exec'>, text: string, params?: readonly unknown[]): Promise<Row[]> {
  if (params !== undefined && params.length > 0) {
    return (await target.query<Row>(text, [...params])).rows;
  }
  // Without parameters: the simple query protocol, so that multi-statement text (migrations)
  // runs as one call, like `pg` does. The rows are those of the last statement.
  const results = await target.exec(text);
  return (results.at(-1)?.rows ?? []) as Row[];
}

/**
 * The Database port on PGlite (PostgreSQL compiled to WebAssembly, in this process).
 *
 * PGlite is one connection: PGlite itself queues `query` calls behind an open transaction, so a
 * query from another caller never runs inside someone else's transaction. Calling the database
 * (not `tx`) from inside a transaction's work would wait for that very transaction: it is
 * rejected at once with an error instead of deadlocking.
 */
export async function openPgliteDatabase(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  let unlock: (() => Promise<void>) | undefined;
  if (dataDir !== undefined) unlock = await lockStore(dataDir);
  let pglite: PGlite;
  let createdFrom: StoreSource | undefined;
  try {
    const params = startParams(options);
    if (dataDir !== undefined && !(await exists(join(dataDir, 'PG_VERSION')))) {
      createdFrom = await createStoreDirectory(dataDir, { startParams: params, template: options.template });
    }
    pglite = await PGlite.create({
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(params === undefined ? {} : { startParams: params }),
      ...(options.relaxedDurability === undefined ? {} : { relaxedDurability: options.relaxedDurability }),
      // BIGINT (int8) comes back as bigint, as the `pg` adapter does.
      parsers: { [types.INT8]: (value: string) => BigInt(value) },
    });
  } catch (error) {
    await unlock?.();
    throw error;
  }

  const scope = new AsyncLocalStorage<TransactionScope>();
  const refuseInsideTransaction = (what: string): void => {
    if (scope.getStore()?.open === true) {
      throw new Error(`${what} called on the database inside a transaction: use the transaction's \`tx\` (PGlite has one connection; this would deadlock)`);
    }
  };
  let closed = false;

  const database: PgliteDatabase = {
    pglite,
    dataDir,
    createdFrom,
    async query<Row extends object>(text: string, params?: readonly unknown[]): Promise<Row[]> {
      refuseInsideTransaction('query()');
      return runText<Row>(pglite, text, params);
    },
    async transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
      refuseInsideTransaction('transaction()');
      return pglite.transaction(async (pgTx) => {
        const state: TransactionScope = { open: true };
        const tx: Sql = {
          query: async <Row extends object>(text: string, params?: readonly unknown[]) => {
            if (!state.open) throw new Error('the transaction is already finished');
            return runText<Row>(pgTx, text, params);
          },
        };
        try {
          return await scope.run(state, () => work(tx));
        } finally {
          state.open = false;
        }
      });
    },
    async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
      // Quoted: the channel name is case-sensitive, as with the `pg` adapter's LISTEN "channel".
      const quoted = `"${channel.replaceAll('"', '""')}"`;
      const callback = (payload: string): void => {
        // Outside PGlite's message handling, so that a throwing listener cannot break a query.
        queueMicrotask(() => onNotify(payload));
      };
      await pglite.listen(quoted, callback);
      let listening = true;
      return async () => {
        // PGlite's own unsubscribe function loses the quotes (and so the case) of the name.
        if (!listening || pglite.closed) return;
        listening = false;
        await pglite.unlisten(quoted, callback);
      };
    },
    async check(): Promise<void> {
      if (closed) throw new Error('the embedded store is closed');
      await pglite.query('SELECT 1');
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await pglite.close();
      } finally {
        await unlock?.();
      }
    },
  };
  return database;
}
