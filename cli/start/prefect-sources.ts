import { createConnectionsRepository, type ConnectionsRepository } from '../../actions/connections.ts';
import type { ReadinessCheck } from '../../api/system-routes.ts';
import { createEventIntake } from '../../ingest/event-intake.ts';
import { startPrefectEventSources, type PrefectEventSources } from '../../ingest/prefect/prefect-event-sources.ts';
import type { PrefectSourceConfig } from '../../ingest/prefect/prefect-event-subscription.ts';
import type { Logger } from '../../platform/logger.ts';
import { processId } from '../../platform/process-id.ts';
import type { RoleContext } from './roles.ts';

/** The Prefect connections marked as event sources, with their secrets; one that cannot be read is logged and left out. */
async function prefectSourceConfigs(connections: ConnectionsRepository, logger: Logger): Promise<PrefectSourceConfig[]> {
  const marked = (await connections.list()).filter((connection) => connection.kind === 'prefect' && connection.config.event_source !== undefined);
  if (marked.length === 0) return [];
  if (!connections.hasSecretKey) {
    logger.warn('VIGIL_SECRET_KEY is not set: the Prefect event sources cannot read their connections');
    return [];
  }
  const configs: PrefectSourceConfig[] = [];
  for (const { name } of marked) {
    try {
      const connection = await connections.resolve(name, 'prefect');
      configs.push({
        name,
        apiUrl: connection.api_url,
        apiKey: connection.api_key,
        authString: connection.auth_string,
        events: connection.event_source?.events,
        resources: connection.event_source?.resources,
      });
    } catch (error) {
      logger.warn({ connection: name, err: error instanceof Error ? error.message : String(error) }, 'cannot read a Prefect event source connection');
    }
  }
  return configs;
}

/**
 * The ingest role's Prefect event sources (decision 0701): the connections marked with
 * `event_source`, appended through an event intake of their own over the process's log.
 */
export function startPrefectSources({ config, infrastructure, logger, metrics }: RoleContext): Promise<PrefectEventSources> {
  const connections = createConnectionsRepository(infrastructure.db, config.VIGIL_SECRET_KEY);
  return startPrefectEventSources({
    db: infrastructure.db,
    intake: createEventIntake({ log: infrastructure.log, metrics }),
    listSources: () => prefectSourceConfigs(connections, logger),
    owner: processId,
    logger,
    registry: metrics.registry,
    reloadMs: config.VIGIL_PREFECT_SOURCE_RELOAD_MS,
  });
}

/** The sources in /readyz: optional (an outside system), ok while each streams or stands by for another process. */
export function prefectSourcesReadiness(sources: PrefectEventSources): ReadinessCheck {
  return {
    name: 'prefect_sources',
    optional: true,
    check: () => {
      const statuses = sources.statuses();
      return Promise.resolve({ ok: statuses.every((status) => status.state === 'streaming' || status.state === 'standby'), detail: statuses });
    },
  };
}
