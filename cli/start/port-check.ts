import { createServer } from 'node:net';
import { ConfigError } from '../../platform/config.ts';

/**
 * Refuses to start when the HTTP port cannot be listened on, before the store is opened or
 * migrated: one line naming the variable instead of a stack trace after the migrations.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'is already in use' : error.code === 'EACCES' ? 'needs privileges this process lacks' : `cannot be listened on (${error.code ?? error.message})`;
      reject(new ConfigError(`vigil: port ${port} on ${host} ${why}: set VIGIL_PORT (or VIGIL_HOST) to a free one, or stop what listens there`));
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
