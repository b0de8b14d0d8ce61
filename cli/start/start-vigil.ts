import { join, resolve } from 'node:path';
import { startEventPersister } from '../../history/event-persister.ts';
import type { Config } from '../../platform/config.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { OutboxRelay } from '../../actions/outbox-relay.ts';
import { startActionsRole } from './actions-role.ts';
import { startApiRole } from './api-role.ts';
import { embeddedAdminKey } from './embedded-admin-key.ts';
import { openInfrastructure } from './infrastructure.ts';
import { prefectSourcesReadiness, startPrefectSources } from './prefect-sources.ts';
import type { Role, RoleContext, Stoppable } from './roles.ts';
import { startTriggersRole } from './triggers-role.ts';

/** `vigil start`: opens the infrastructure and runs the given roles until SIGINT or SIGTERM. */
export async function startVigil(config: Config, selected: readonly Role[]): Promise<void> {
  const startedAt = performance.now();
  const logger: Logger = createLogger(config.VIGIL_LOG_LEVEL);
  const metrics = createMetrics();
  const infrastructure = await openInfrastructure(config, logger);
  const context: RoleContext = { config, infrastructure, logger, metrics };
  const running: Stoppable[] = [];

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    for (const part of running.reverse()) await part.close().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
    await infrastructure.close().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  let adminKey = config.VIGIL_ADMIN_KEY;
  let announceKey = false;
  if (config.mode === 'embedded') {
    const found = await embeddedAdminKey(config);
    adminKey = found.key;
    announceKey = found.generated;
  } else if (!adminKey) {
    logger.warn('VIGIL_ADMIN_KEY is not set: only keys created with `vigil keys create` can call the API');
  }

  // Actions first, so that the evaluator can hand its committed rows to this process's relay.
  let actionRelay: OutboxRelay | undefined;
  if (selected.includes('actions')) {
    const actions = await startActionsRole(context, selected.includes('triggers'));
    actionRelay = actions.relay;
    running.push(...actions.parts);
  }
  if (selected.includes('triggers')) running.push(...(await startTriggersRole(context, actionRelay)));
  if (selected.includes('api')) {
    running.push(await startEventPersister({ db: infrastructure.db, log: infrastructure.log, logger, retentionDays: config.VIGIL_EVENT_RETENTION_DAYS }));
  }
  // The ingest role also pulls Prefect's events from the connections marked as event sources.
  const prefectSources = selected.includes('ingest') ? await startPrefectSources(context) : undefined;
  if (prefectSources) running.push(prefectSources);
  if (selected.includes('ingest') || selected.includes('api')) {
    const api = await startApiRole({
      db: infrastructure.db,
      log: infrastructure.log,
      logger,
      metrics,
      adminKey,
      rateLimitPerMinute: config.VIGIL_RATE_LIMIT_PER_MINUTE,
      host: config.VIGIL_HOST,
      port: config.VIGIL_PORT,
      queue: infrastructure.queue,
      secretKey: config.VIGIL_SECRET_KEY,
      egress: { allowlist: config.VIGIL_EGRESS_ALLOWLIST },
      serve: (['ingest', 'api'] as const).filter((role) => selected.includes(role)),
      readiness: prefectSources ? [prefectSourcesReadiness(prefectSources)] : [],
    });
    running.push(api);
    if (announceKey) {
      process.stdout.write(
        `\nVigil is running at ${api.url} (embedded mode, data in ${resolve(config.VIGIL_DATA_DIR)}).\n` +
          `Local admin API key (also saved in ${join(resolve(config.VIGIL_DATA_DIR), 'admin-key')}):\n\n  ${adminKey}\n\n`,
      );
    }
    logger.info({ url: api.url, mode: config.mode, roles: selected }, 'listening');
  }
  logger.info({ mode: config.mode, roles: selected, ready_ms: Math.round(performance.now() - startedAt) }, 'vigil is ready');
}
