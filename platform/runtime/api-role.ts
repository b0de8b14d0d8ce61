import type { FastifyInstance } from 'fastify';
import { createApiKeys } from '../../api/api-keys.ts';
import { buildServer } from '../../api/server.ts';
import { createEventHistory } from '../../api/events/event-history.ts';
import { registerEventRoutes } from '../../api/events/event-routes.ts';
import { createEventStreamHub } from '../../api/events/event-stream-hub.ts';
import { createEventIntake } from '../../ingest/event-intake.ts';
import { registerIntakeRoutes } from '../../ingest/intake-routes.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Database } from '../ports/database.ts';
import type { EventLog } from '../ports/event-log.ts';

export interface ApiRoleOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly adminKey?: string | undefined;
  readonly rateLimitPerMinute: number;
  readonly host: string;
  readonly port: number;
}

export interface RunningApi {
  readonly app: FastifyInstance;
  /** The URL it listens on, e.g. http://127.0.0.1:7700. */
  readonly url: string;
  close(): Promise<void>;
}

/** The HTTP role: intake and control plane on one fastify app. */
export async function startApiRole(options: ApiRoleOptions): Promise<RunningApi> {
  const apiKeys = createApiKeys(options.db, { adminKey: options.adminKey });
  const intake = createEventIntake({ log: options.log, metrics: options.metrics });
  const history = createEventHistory(options.db);
  const hub = createEventStreamHub(history, options.logger);
  const app = await buildServer({
    logger: options.logger,
    metrics: options.metrics,
    apiKeys,
    rateLimitPerMinute: options.rateLimitPerMinute,
    readiness: [
      { name: 'event_log', check: () => options.log.check() },
      { name: 'database', check: () => options.db.check() },
    ],
    routes: [(server) => registerIntakeRoutes(server, intake), (server) => registerEventRoutes(server, history, hub)],
  });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { app, url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, close: async () => {
    hub.close();
    await app.close();
  } };
}
