import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { access, mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, types, type Transaction } from '@electric-sql/pglite';
import type { Database, Sql } from '../ports/database.ts';

/**
 * PostgreSQL settings for the embedded store, chosen by measurement (docs/decisions/0300):
 * PGlite's defaults (shared_buffers 128 MB and friends) cost 400–800 MB resident memory after
 * a few thousand inserts. These keep `vigil start` well under the 400 MB target.
 */
export const embeddedPostgresSettings: Readonly<Record<string, string>> = {
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
}

/** The Database port plus the PGlite instance, for adapters that share the embedded store. */
export interface PgliteDatabase extends Database {
  readonly pglite: PGlite;
  readonly dataDir: string | undefined;
}

/** The store is already open in a live process; two PGlite instances on one directory corrupt it. */
export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
}

interface TransactionScope {
  open: boolean;
}

function startParams(options: PgliteDatabaseOptions): string[] | undefined {
  if (options.untuned === true && options.settings === undefined) return undefined;
  const settings = { ...(options.untuned === true ? {} : embeddedPostgresSettings), ...options.settings };
  return [...PGlite.defaultStartParams, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One process per store directory: a lock file beside it holding the owner's pid. */
async function lockStore(lockPath: string): Promise<() => Promise<void>> {
  await mkdir(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new StoreLockedError(`the embedded store ${dirname(lockPath)} is in use by process ${owner} (lock file ${lockPath})`);
      }
      if (owner === process.pid) {
        throw new StoreLockedError(`the embedded store ${dirname(lockPath)} is already open in this process`);
      }
      // Left behind by a process that died: take it over.
      await rm(lockPath, { force: true });
    }
  }
  throw new StoreLockedError(`could not lock the embedded store (lock file ${lockPath})`);
}

/** Creates a new store directory (initdb) in a child process; see initialize-store-process.ts. */
async function initializeStore(dataDir: string, params: string[] | undefined): Promise<void> {
  const script = fileURLToPath(new URL('./initialize-store-process.ts', import.meta.url));
  const child = spawn(process.execPath, [script, dataDir, params === undefined ? '' : JSON.stringify(params)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', resolvePromise);
  });
  if (code !== 0) throw new Error(`initializing the embedded store in ${dataDir} failed (exit code ${code}): ${stderr.trim()}`);
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
  if (dataDir !== undefined) {
    unlock = await lockStore(`${dataDir}.lock`);
    await mkdir(dataDir, { recursive: true });
  }
  let pglite: PGlite;
  try {
    const params = startParams(options);
    if (dataDir !== undefined && !(await exists(join(dataDir, 'PG_VERSION')))) {
      await initializeStore(dataDir, params);
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
