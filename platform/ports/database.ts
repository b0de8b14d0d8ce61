/**
 * The store port: PostgreSQL SQL, run by `pg` in distributed mode and by PGlite in embedded
 * mode. Same SQL and migrations for both; repositories are written against this interface.
 */
export interface Sql {
  /** Runs one statement with `$1…` parameters and returns its rows. */
  query<Row extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface Database extends Sql {
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it rejects. */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  /** Subscribes to NOTIFY on a channel; resolves to a function that unsubscribes. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** Resolves when the database answers; rejects otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}
