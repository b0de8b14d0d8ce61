import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Database, Sql } from '../ports/database.ts';

// BIGINT (int8) columns come back as bigint, not as lossy numbers or strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => BigInt(value));

export interface PostgresOptions {
  readonly url: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  readonly applicationName?: string;
  /**
   * Bounds on every session (decision 0603): a statement runs at most `statementTimeoutMs`
   * (default 60 s), waits for a lock at most `lockTimeoutMs` (default 5 s), and a transaction left
   * idle for `idleInTransactionTimeoutMs` (default 15 s: a frozen or partitioned process) is ended
   * by the server, releasing its row locks. 0 turns one off.
   */
  readonly statementTimeoutMs?: number;
  readonly lockTimeoutMs?: number;
  readonly idleInTransactionTimeoutMs?: number;
}

export const defaultSessionTimeouts = { statementTimeoutMs: 60_000, lockTimeoutMs: 5_000, idleInTransactionTimeoutMs: 15_000 } as const;

/** Distinct statement texts given a name; texts beyond it run unnamed (parsed and planned every time). */
const maxNamedStatements = 1_000;

/**
 * Statements with parameters run as named prepared statements: each connection parses (and,
 * once PostgreSQL settles on a generic plan, plans) one only once instead of on every execution,
 * which was a large part of the server's CPU for the pipeline's small, frequent statements.
 * Texts without parameters stay unnamed: they may hold several statements (migrations), which
 * cannot be prepared.
 */
function statementNamer(): (text: string, params: readonly unknown[] | undefined) => pg.QueryConfig | string {
  const names = new Map<string, string>();
  return (text, params) => {
    if (params === undefined || params.length === 0) return text;
    let name = names.get(text);
    if (name === undefined) {
      if (names.size >= maxNamedStatements) return { text, values: [...params] };
      name = `vigil_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return { name, text, values: [...params] };
  };
}

/** The Database port on PostgreSQL through a `pg` pool. */
export function createPostgresDatabase(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'vigil',
    connectionTimeoutMillis: 5_000,
    statement_timeout: options.statementTimeoutMs ?? defaultSessionTimeouts.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs ?? defaultSessionTimeouts.lockTimeoutMs,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? defaultSessionTimeouts.idleInTransactionTimeoutMs,
    // Opening a connection costs 10–45 ms here: keep idle ones for a while instead of 10 s.
    idleTimeoutMillis: 60_000,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool replaces it and the next query reports the error to its caller.
  pool.on('error', () => undefined);
  const statement = statementNamer();

  const query: Sql['query'] = async <Row extends object>(text: string, params?: readonly unknown[]) => {
    const result = await pool.query<Row>(statement(text, params));
    return result.rows;
  };

  return {
    query,
    async transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // pg listens for errors only on idle clients: one lost mid-transaction (a database
      // restart) would emit an unhandled 'error' and end the process. The failed query
      // rejects on its own and the transaction's caller sees that.
      const ignore = () => undefined;
      client.on('error', ignore);
      try {
        await client.query('BEGIN');
        const tx: Sql = {
          query: async <Row extends object>(text: string, params?: readonly unknown[]) => (await client.query<Row>(statement(text, params))).rows,
        };
        const result = await work(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.off('error', ignore);
        client.release();
      }
    },
    async listen(channel, onNotify) {
      const client = new pg.Client({ connectionString: options.url, application_name: options.applicationName ?? 'vigil' });
      client.on('error', () => undefined);
      await client.connect();
      client.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      return async () => {
        await client.end().catch(() => undefined);
      };
    },
    async check() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}
