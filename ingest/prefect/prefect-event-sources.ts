import type { Logger } from '../../platform/logger.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { Registry } from 'prom-client';
import type { EventIntake } from '../event-intake.ts';
import { startPrefectSubscription, type PrefectSourceConfig, type PrefectSubscription, type SourceStatus } from './prefect-event-subscription.ts';
import { prefectSourceMetricsFor } from './prefect-source-metrics.ts';
import { createSourcePositions } from './source-positions.ts';

/*
 * The Prefect event sources of this process: one subscription per Prefect connection marked as
 * an event source (`event_source` in its config). The list is read again every `reloadMs`, so a
 * connection added, changed or removed through the API starts, restarts or stops its source
 * without a restart. Runs in the ingest role (decision 0701): it is intake, like POST /api/events.
 */

export interface PrefectEventSources {
  /** One entry per source, for /readyz. */
  statuses(): SourceStatus[];
  close(): Promise<void>;
}

export interface PrefectEventSourcesOptions {
  readonly db: Database;
  readonly intake: EventIntake;
  /** The Prefect connections marked as event sources, with their secrets (from the composition root). */
  readonly listSources: () => Promise<PrefectSourceConfig[]>;
  readonly owner: string;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly reloadMs?: number;
  readonly leaseMs?: number;
  /** See SubscriptionOptions.seamCheckMs. */
  readonly seamCheckMs?: number;
}

export async function startPrefectEventSources(options: PrefectEventSourcesOptions): Promise<PrefectEventSources> {
  const positions = createSourcePositions(options.db);
  const metrics = prefectSourceMetricsFor(options.registry);
  const logger = options.logger.child({ component: 'prefect-sources' });
  const running = new Map<string, PrefectSubscription>();
  let closed = false;

  async function reload(): Promise<void> {
    let wanted: PrefectSourceConfig[];
    try {
      wanted = await options.listSources();
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'cannot read the Prefect event source connections');
      return;
    }
    const byName = new Map(wanted.map((config) => [config.name, config]));
    for (const [name, subscription] of running) {
      const config = byName.get(name);
      if (!config || JSON.stringify(config) !== JSON.stringify(subscription.config)) {
        running.delete(name);
        await subscription.close();
      }
    }
    for (const config of wanted) {
      if (closed || running.has(config.name)) continue;
      running.set(config.name, startPrefectSubscription({ config, intake: options.intake, positions, owner: options.owner, logger, metrics, ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}), ...(options.seamCheckMs ? { seamCheckMs: options.seamCheckMs } : {}) }));
    }
  }

  await reload();
  let reloading: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    reloading = reloading.then(reload);
  }, options.reloadMs ?? 30_000);

  return {
    statuses: () => [...running.values()].map((subscription) => subscription.status()),
    async close() {
      closed = true;
      clearInterval(timer);
      await reloading;
      await Promise.all([...running.values()].map((subscription) => subscription.close()));
      running.clear();
    },
  };
}
