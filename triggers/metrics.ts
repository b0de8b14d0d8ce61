import { Counter, type Registry } from 'prom-client';

/** Counters of the trigger evaluator and deadline timer; registered when a prom-client Registry is given. */
export interface TriggerMetrics {
  eventsConsumed(n: number): void;
  eventsMatched(n: number): void;
  firings(kind: 'triggered' | 'resolved', n: number): void;
  lateEvents(n: number): void;
  duplicateEvents(n: number): void;
  depthLimited(n: number): void;
}

const noop: TriggerMetrics = {
  eventsConsumed: () => undefined,
  eventsMatched: () => undefined,
  firings: () => undefined,
  lateEvents: () => undefined,
  duplicateEvents: () => undefined,
  depthLimited: () => undefined,
};

function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function triggerMetrics(registry?: Registry): TriggerMetrics {
  if (!registry) return noop;
  const consumed = counter(registry, 'vigil_trigger_events_consumed_total', 'Events read from the log by the trigger evaluator');
  const matched = counter(registry, 'vigil_trigger_events_matched_total', 'Event × automation matches');
  const firings = counter(registry, 'vigil_trigger_firings_total', 'Firings and resolutions written', ['state']);
  const late = counter(registry, 'vigil_trigger_late_events_total', 'Events later than the allowed lateness (reported as vigil.event.late)');
  const dupes = counter(registry, 'vigil_trigger_duplicate_events_total', 'Events ignored because their id was already counted');
  const depth = counter(registry, 'vigil_trigger_depth_limited_events_total', 'Vigil events not matched because of the loop depth limit');
  return {
    eventsConsumed: (n) => consumed.inc(n),
    eventsMatched: (n) => matched.inc(n),
    firings: (kind, n) => firings.inc({ state: kind }, n),
    lateEvents: (n) => late.inc(n),
    duplicateEvents: (n) => dupes.inc(n),
    depthLimited: (n) => depth.inc(n),
  };
}
