import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../platform/config.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startEventPersister } from '../api/events/event-persister.ts';
import { startApiRole } from '../platform/runtime/api-role.ts';
import { openInfrastructure } from '../platform/runtime/infrastructure.ts';

export const roles = ['ingest', 'api', 'triggers', 'actions'] as const;
export type Role = (typeof roles)[number];

interface Stoppable {
  close(): Promise<void>;
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

/** `vigil start`: opens the infrastructure and runs the given roles until SIGINT or SIGTERM. */
export async function startVigil(config: Config, selected: readonly Role[]): Promise<void> {
  const startedAt = performance.now();
  const logger: Logger = createLogger(config.VIGIL_LOG_LEVEL);
  const metrics = createMetrics();
  const infrastructure = await openInfrastructure(config, logger);
  const running: Stoppable[] = [];

  let adminKey = config.VIGIL_ADMIN_KEY;
  let announceKey = false;
  if (config.mode === 'embedded') {
    const found = await embeddedAdminKey(config);
    adminKey = found.key;
    announceKey = found.generated;
  } else if (!adminKey) {
    logger.warn('VIGIL_ADMIN_KEY is not set: only keys created with `vigil keys create` can call the API');
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
    });
    running.push(api);
    if (selected.includes('api')) {
      running.push(await startEventPersister({ db: infrastructure.db, log: infrastructure.log, logger, retentionDays: config.VIGIL_EVENT_RETENTION_DAYS }));
    }
    logger.info({ url: api.url, mode: config.mode, roles: selected, ready_ms: Math.round(performance.now() - startedAt) }, 'vigil is ready');
    if (announceKey) {
      process.stdout.write(
        `\nVigil is running at ${api.url} (embedded mode, data in ${resolve(config.VIGIL_DATA_DIR)}).\n` +
          `Local admin API key (also saved in ${join(resolve(config.VIGIL_DATA_DIR), 'admin-key')}):\n\n  ${adminKey}\n\n`,
      );
    }
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    for (const part of running.reverse()) await part.close().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
    await infrastructure.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
