import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startActionWorkers } from '../actions/action-worker.ts';
import { outboxRowOf } from '../actions/outbox-job.ts';
import { startOutboxRelay, type OutboxRelay } from '../actions/outbox-relay.ts';
import { startEventPersister } from '../api/events/event-persister.ts';
import type { Config } from '../platform/config.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createMetrics, type Metrics } from '../platform/metrics.ts';
import { startApiRole } from '../platform/runtime/api-role.ts';
import { openInfrastructure, type Infrastructure } from '../platform/runtime/infrastructure.ts';
import { startDeadlineTimer, startLifecycleEventRelay, startTriggerEvaluator } from '../triggers/index.ts';
import type { OutboxHandOff } from '../triggers/trigger-state-store.ts';

export const roles = ['ingest', 'api', 'triggers', 'actions'] as const;
export type Role = (typeof roles)[number];

interface Stoppable {
  close(): Promise<void>;
}

interface RoleContext {
  readonly config: Config;
  readonly infrastructure: Infrastructure;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * The admin key of an embedded installation: VIGIL_ADMIN_KEY when set, else one generated on
 * first start and kept in the data directory (readable by the owner only).
 */
async function embeddedAdminKey(config: Config): Promise<{ key: string; generated: boolean }> {
  if (config.VIGIL_ADMIN_KEY) return { key: config.VIGIL_ADMIN_KEY, generated: false };
  const file = join(resolve(config.VIGIL_DATA_DIR), 'admin-key');
  try {
    return { key: (await readFile(file, 'utf8')).trim(), generated: false };
  } catch {
    const key = `vk_${randomBytes(24).toString('base64url')}`;
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return { key, generated: true };
  }
}

/**
 * How old an outbox row must be before a relay's sweep takes it, when the rows are handed over
 * in-process as they commit: well beyond a hand-off's usual milliseconds, so that the sweep
 * rarely repeats one (a repeat is harmless: same job id, same event id).
 */
const handOffSweepAfterMs = 5_000;

/**
 * The trigger evaluator consumer group, its deadline timer and the lifecycle-event relay. Both
 * hand their committed outbox rows to this process's relays: the lifecycle events to the
 * relay started here, the actions to `actionRelay` when the actions role runs here too.
 */
async function startTriggersRole({ config, infrastructure, logger, metrics }: RoleContext, actionRelay: OutboxRelay | undefined): Promise<Stoppable[]> {
  const { db, log } = infrastructure;
  const triggersLogger = logger.child({ component: 'triggers' });
  const relay = await startLifecycleEventRelay({ db, log, logger: triggersLogger, sweepAfterMs: handOffSweepAfterMs });
  const onCommitted: OutboxHandOff = ({ actions, events }) => {
    relay.publish(events);
    actionRelay?.handOff(actions.map(outboxRowOf));
  };
  const allowedLatenessMs = config.VIGIL_ALLOWED_LATENESS_MS;
  const evaluator = await startTriggerEvaluator({ db, log, logger: triggersLogger, metrics: metrics.registry, allowedLatenessMs, onCommitted });
  const timer = await startDeadlineTimer({ db, logger: triggersLogger, metrics: metrics.registry, catalog: evaluator.catalog, allowedLatenessMs, onCommitted });
  return [relay, evaluator, timer];
}

/**
 * The outbox relay into the action queue and the workers that run the actions. With the
 * triggers role in the same process, the relay takes rows handed over as they commit and only
 * sweeps for the rest.
 */
async function startActionsRole({ config, infrastructure, logger, metrics }: RoleContext, withTriggers: boolean): Promise<{ relay: OutboxRelay; parts: Stoppable[] }> {
  const { db, log, queue } = infrastructure;
  const actionsLogger = logger.child({ component: 'actions' });
  if (!config.VIGIL_SECRET_KEY) actionsLogger.warn('VIGIL_SECRET_KEY is not set: actions that use a connection will fail until it is');
  const relay = await startOutboxRelay({ db, queue, logger: actionsLogger, ...(withTriggers ? { sweepAfterMs: handOffSweepAfterMs } : {}) });
  const workers = await startActionWorkers({
    db,
    queue,
    emit: (events) => log.append(events),
    logger: actionsLogger,
    concurrency: config.VIGIL_ACTION_CONCURRENCY,
    ...(config.VIGIL_SECRET_KEY ? { secretKey: config.VIGIL_SECRET_KEY } : {}),
    egress: { allowlist: config.VIGIL_EGRESS_ALLOWLIST },
    metrics: metrics.registry,
  });
  return { relay, parts: [relay, workers] };
}

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
      serve: (['ingest', 'api'] as const).filter((role) => selected.includes(role)),
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
