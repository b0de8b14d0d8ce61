import { resolve } from 'node:path';
import { createConnectionsRepository } from '../../actions/connections.ts';
import { startEventPersister } from '../../history/event-persister.ts';
import type { Config } from '../../platform/config.ts';
import { createLogger, type Logger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { OutboxRelay } from '../../actions/outbox-relay.ts';
import { startActionsRole } from './actions-role.ts';
import { startApiRole } from './api-role.ts';
import { embeddedAdminKey, embeddedSecretKey, type DataDirKey } from './embedded-admin-key.ts';
import { openInfrastructure, type Infrastructure } from './infrastructure.ts';
import { assertPortFree } from './port-check.ts';
import { prefectSourcesReadiness, startPrefectSources } from './prefect-sources.ts';
import type { Role, RoleContext, Stoppable } from './roles.ts';
import { startTriggersRole } from './triggers-role.ts';

/** Stored connections the configured key cannot decrypt fail every action that uses them: say so at start. */
async function warnAboutUndecryptableConnections(infrastructure: Infrastructure, config: Config, logger: Logger): Promise<void> {
  const failing = await createConnectionsRepository(infrastructure.db, config.VIGIL_SECRET_KEY).undecryptable();
  if (failing.length === 0) return;
  logger.warn(
    { connections: failing.map((connection) => connection.name), reason: failing[0]!.reason },
    `${failing.length} stored connection(s) cannot be decrypted with the ${config.VIGIL_SECRET_KEY ? 'configured VIGIL_SECRET_KEY' : 'missing VIGIL_SECRET_KEY'}: ` +
      'actions that use them will fail; start with the key they were saved with, or save them again (PUT /api/connections/{name})',
  );
}

/** What a person starting Vigil needs first, on every start: where it runs and where the keys are. */
function banner(options: { url: string; config: Config; roles: readonly Role[]; admin: DataDirKey | undefined; secret: DataDirKey | undefined }): string {
  const { url, config, admin, secret } = options;
  const lines = [''];
  if (config.mode === 'embedded') {
    lines.push(`Vigil is running at ${url} (embedded mode, data in ${resolve(config.VIGIL_DATA_DIR)}).`);
  } else {
    lines.push(`Vigil is running at ${url} (distributed mode, roles: ${options.roles.join(', ')}).`);
  }
  if (admin?.generated) lines.push(`Local admin API key (also saved in ${admin.file}):`, '', `  ${admin.key}`, '');
  else if (admin?.file) lines.push(`The admin API key is in ${admin.file}.`);
  else lines.push(config.VIGIL_ADMIN_KEY ? 'The admin API key is the one in VIGIL_ADMIN_KEY.' : 'VIGIL_ADMIN_KEY is not set: use keys made with `vigil keys create`.');
  if (secret?.generated) {
    lines.push(`Connection secrets are encrypted with a key generated now and kept in ${secret.file}: back it up with the data directory.`);
  }
  lines.push(`API docs: ${url}/docs`, '');
  return `${lines.join('\n')}\n`;
}

/** `vigil start`: opens the infrastructure and runs the given roles until SIGINT or SIGTERM. */
export async function startVigil(config: Config, selected: readonly Role[]): Promise<void> {
  const startedAt = performance.now();
  const logger: Logger = createLogger(config.VIGIL_LOG_LEVEL, 'vigil', config.VIGIL_LOG_FORMAT);
  const metrics = createMetrics();
  const servesHttp = selected.includes('ingest') || selected.includes('api');
  // Before the store is opened or migrated: a taken port is one line, not a crash after migrating.
  if (servesHttp) await assertPortFree(config.VIGIL_HOST, config.VIGIL_PORT);
  const infrastructure = await openInfrastructure(config, logger);
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
  let admin: DataDirKey | undefined;
  let secret: DataDirKey | undefined;
  if (config.mode === 'embedded') {
    admin = await embeddedAdminKey(config);
    adminKey = admin.key;
    secret = await embeddedSecretKey(config);
  } else if (!adminKey) {
    logger.warn('VIGIL_ADMIN_KEY is not set: only keys created with `vigil keys create` can call the API');
  }
  // Embedded mode without VIGIL_SECRET_KEY uses the key kept in the data directory.
  const effective: Config = secret ? { ...config, VIGIL_SECRET_KEY: secret.key } : config;
  const context: RoleContext = { config: effective, infrastructure, logger, metrics };
  await warnAboutUndecryptableConnections(infrastructure, effective, logger);

  // Actions first, so that the evaluator can hand its committed rows to this process's relay.
  let actionRelay: OutboxRelay | undefined;
  if (selected.includes('actions')) {
    const actions = await startActionsRole(context, selected.includes('triggers'));
    actionRelay = actions.relay;
    running.push(...actions.parts);
  }
  if (selected.includes('triggers')) running.push(...(await startTriggersRole(context, actionRelay)));
  if (selected.includes('api')) {
    running.push(await startEventPersister({ db: infrastructure.db, log: infrastructure.log, logger, retentionDays: config.VIGIL_EVENT_RETENTION_DAYS, metrics: metrics.registry }));
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
      secretKey: effective.VIGIL_SECRET_KEY,
      egress: { allowlist: config.VIGIL_EGRESS_ALLOWLIST },
      serve: (['ingest', 'api'] as const).filter((role) => selected.includes(role)),
      readiness: prefectSources ? [prefectSourcesReadiness(prefectSources)] : [],
    });
    running.push(api);
    process.stdout.write(banner({ url: api.url, config, roles: selected, admin, secret }));
    logger.info({ url: api.url, mode: config.mode, roles: selected }, 'listening');
  }
  logger.info({ mode: config.mode, roles: selected, ready_ms: Math.round(performance.now() - startedAt) }, 'vigil is ready');
}
