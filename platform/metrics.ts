import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus registry served at /metrics, with process metrics and the ingest figures. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'vigil_http_requests_total',
      help: 'HTTP requests answered, by route, method and status code',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    eventsAccepted: new Counter({
      name: 'vigil_events_accepted_total',
      help: 'Events durably appended to the event log, by input format',
      labelNames: ['format'] as const,
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: 'vigil_events_rejected_total',
      help: 'Events refused at intake, by reason (invalid, too_large, log_unavailable)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    appendSeconds: new Histogram({
      name: 'vigil_event_log_append_seconds',
      help: 'Time for the event log to acknowledge one append (Kafka: acks=all)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
