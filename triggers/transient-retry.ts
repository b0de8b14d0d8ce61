import type { Logger } from './automation-catalog.ts';

/** PostgreSQL errors worth retrying: deadlock, serialization failure, connection loss, shutdown, too many connections. */
function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return code === '40P01' || code === '40001' || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE';
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
