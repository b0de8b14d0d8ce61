import type { FastifyInstance } from 'fastify';
import { createActionRunsRepository } from '../../actions/action-runs.ts';
import { createConnectionTester } from '../../actions/connection-test.ts';
import { createConnectionsRepository } from '../../actions/connections.ts';
import { createHttpClient } from '../../actions/http.ts';
import { createEgressGuard, type EgressOptions } from '../../actions/egress-guard.ts';
import { registerActionRunRoutes } from '../../api/action-runs-routes.ts';
import { registerAutomationRoutes } from '../../api/automations-routes.ts';
import { createApiKeys } from '../../api/api-keys.ts';
import { registerApiKeyRoutes } from '../../api/api-keys-routes.ts';
import { registerConnectionRoutes } from '../../api/connections-routes.ts';
import { registerFiringRoutes } from '../../api/firings-routes.ts';
import { registerConsoleRoutes } from '../../api/console-routes.ts';
import { registerTriggerStatusRoutes } from '../../api/trigger-status-routes.ts';
import { registerWhoAmIRoute } from '../../api/whoami-route.ts';
import { buildServer } from '../../api/server.ts';
import { createEventHistory } from '../../history/event-history.ts';
import { registerEventRoutes } from '../../api/events/event-routes.ts';
import { createEventStreamHub } from '../../api/events/event-stream-hub.ts';
import { createEventIntake } from '../../ingest/event-intake.ts';
import type { ReadinessCheck } from '../../api/system-routes.ts';
import { registerIntakeRoutes } from '../../ingest/intake-routes.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { ActionQueue } from '../../platform/ports/action-queue.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';

export interface ApiRoleOptions {
  readonly db: Database;
  readonly log: EventLog;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly adminKey?: string | undefined;
  readonly rateLimitPerMinute: number;
  readonly host: string;
  readonly port: number;
  /** The action queue: without it, the action runs routes (list, read, retry) are not mounted. */
  readonly queue?: ActionQueue | undefined;
  /** VIGIL_SECRET_KEY: without it, connections can be listed and deleted but not saved (409 secret_key_missing). */
  readonly secretKey?: string | undefined;
  /** Egress guard settings for the calls of connection tests (as for the action workers). */
  readonly egress?: EgressOptions | undefined;
  /** Which route groups to serve: `ingest` (event intake), `api` (control plane and history). Default both. */
  readonly serve?: ReadonlyArray<'ingest' | 'api'>;
  /** More /readyz checks (e.g. the Prefect event sources, optional). */
  readonly readiness?: readonly ReadinessCheck[];
}

export interface RunningApi {
  readonly app: FastifyInstance;
  /** The URL it listens on, e.g. http://127.0.0.1:7700. */
  readonly url: string;
  close(): Promise<void>;
}

/** The HTTP role: intake and control plane on one fastify app. */
export async function startApiRole(options: ApiRoleOptions): Promise<RunningApi> {
  const serve = options.serve ?? ['ingest', 'api'];
  const apiKeys = createApiKeys(options.db, { adminKey: options.adminKey });
  const stopWatchingKeys = await apiKeys.watchRevocations();
  const intake = createEventIntake({ log: options.log, metrics: options.metrics });
  const history = createEventHistory(options.db);
  const hub = createEventStreamHub(history, options.logger);
  const actionRuns = options.queue ? createActionRunsRepository(options.db, options.queue) : undefined;
  const connections = createConnectionsRepository(options.db, options.secretKey);
  // Connection tests call out like the action workers: through an egress guard of their own.
  const egress = createEgressGuard(options.egress);
  const tester = createConnectionTester({ connections, http: createHttpClient(egress.dispatcher) });
  const release = async () => {
    hub.close();
    await stopWatchingKeys();
    await egress.close();
  };
  let built: FastifyInstance | undefined;
  try {
    built = await buildServer({
      logger: options.logger,
      metrics: options.metrics,
      apiKeys,
      rateLimitPerMinute: options.rateLimitPerMinute,
      readiness: [
        { name: 'event_log', check: () => options.log.check() },
        { name: 'database', check: () => options.db.check() },
        ...(options.readiness ?? []),
      ],
      routes: [
        ...(serve.includes('ingest') ? [(server: FastifyInstance) => registerIntakeRoutes(server, intake)] : []),
        ...(serve.includes('api')
          ? [
              (server: FastifyInstance) => registerEventRoutes(server, history, hub),
              (server: FastifyInstance) => registerAutomationRoutes(server, options.db, { connections }),
              (server: FastifyInstance) => registerTriggerStatusRoutes(server, options.db),
              registerWhoAmIRoute,
              (server: FastifyInstance) => registerConsoleRoutes(server),
              (server: FastifyInstance) => registerFiringRoutes(server, options.db),
              (server: FastifyInstance) => registerApiKeyRoutes(server, apiKeys),
              (server: FastifyInstance) => registerConnectionRoutes(server, connections, tester),
              ...(actionRuns ? [(server: FastifyInstance) => registerActionRunRoutes(server, actionRuns)] : []),
            ]
          : []),
      ],
    });
    await built.listen({ host: options.host, port: options.port });
  } catch (error) {
    await built?.close();
    await release();
    throw error;
  }
  const app = built;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { app, url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, close: async () => {
    hub.close();
    await app.close();
    await release();
  } };
}
