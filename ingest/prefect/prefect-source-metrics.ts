import { Counter, Gauge, type Registry } from 'prom-client';

const byRegistry = new WeakMap<Registry, PrefectSourceMetrics>();

/** The Prometheus figures of the Prefect event sources on a registry (made once per registry). */
export function prefectSourceMetricsFor(registry: Registry): PrefectSourceMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = createPrefectSourceMetrics(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

/** The Prometheus figures of the Prefect event sources, labelled by connection. */
function createPrefectSourceMetrics(registry: Registry) {
  return {
    streaming: new Gauge({
      name: 'vigil_prefect_source_streaming',
      help: 'Whether the Prefect event source of a connection is subscribed and streaming (1) or not (0)',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'vigil_prefect_source_lag_seconds',
      help: 'Seconds from the occurred time of the newest Prefect event appended to its append',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    appended: new Counter({
      name: 'vigil_prefect_source_events_total',
      help: 'Prefect events appended to the event log',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'vigil_prefect_source_events_skipped_total',
      help: 'Prefect messages not appended because Vigil cannot take them (logged with the reason)',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
    reconnects: new Counter({
      name: 'vigil_prefect_source_reconnects_total',
      help: 'Times a Prefect event source reconnected after its stream ended or failed',
      labelNames: ['connection'] as const,
      registers: [registry],
    }),
  };
}

export type PrefectSourceMetrics = ReturnType<typeof createPrefectSourceMetrics>;
