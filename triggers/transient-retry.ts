import type { Logger } from './automation-catalog.ts';

/**
 * PostgreSQL errors worth retrying: deadlock, serialization failure, connection loss, shutdown,
 * too many connections, and the session bounds (decision 0603): a lock not granted within
 * lock_timeout (another replica holds it — frozen, or just slow), a statement cancelled by
 * statement_timeout, a transaction ended by idle_in_transaction_session_timeout.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return (
      ['40P01', '40001', '57P01', '57P02', '57P03', '53300', '55P03', '57014', '25P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code) || code.startsWith('08')
    );
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|ECONNREFUSED|ECONNRESET|Client has encountered a connection error/i.test(message);
}

/** Retries `work` on transient database errors with capped exponential backoff, until it succeeds or the owner closes. */
export async function withTransientRetry<T>(work: () => Promise<T>, options: { isClosed: () => boolean; logger: Logger; what: string; maxAttempts?: number }): Promise<T> {
  let attempt = 0;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      attempt++;
      if (!isTransientDatabaseError(error) || options.isClosed() || attempt >= (options.maxAttempts ?? 120)) throw error;
      options.logger.warn({ err: error, attempt }, `${options.what}: transient database error; retrying`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** Math.min(attempt, 6))));
    }
  }
}
