import { Gauge, type Registry } from 'prom-client';
import type { EventLog } from '../ports/event-log.ts';

/**
 * How the log's consumers of this process are doing, for /readyz and /metrics: how far each is
 * behind the end of the log (records), how long ago its position last moved, and whether it is
 * stuck — failing since its last progress, or not moving while records wait.
 */
export type ConsumerState = 'ok' | 'lagging' | 'stuck';

export interface ConsumerStatus {
  readonly consumer: string;
  readonly state: ConsumerState;
  /** Records between this consumer's positions and the end of the log (partitions it has handled), null when the log did not answer. */
  readonly lag: number | null;
  /** Seconds since its position last moved (since it started, when it has not moved yet). */
  readonly last_commit_age_seconds: number;
  readonly last_error?: string;
}

/** What a consumer reports as it works. */
export interface ConsumerProgress {
  /** Its positions moved past a handled batch. */
  advanced(positions: ReadonlyMap<number, bigint>): void;
  /** Handling failed; the batch will be read again. */
  failed(error: unknown): void;
}

export interface ConsumerHealthOptions {
  /** Records waiting and no progress for this long: lagging (default 15 s). */
  readonly laggingAfterMs?: number;
  /** Records waiting and no progress for this long: stuck (default 60 s). */
  readonly stuckAfterMs?: number;
}

export interface ConsumerHealth {
  /** The progress of consumer `name` (one per name: a consumer that resubscribes keeps its history). */
  track(name: string, log: EventLog): ConsumerProgress;
  report(): Promise<ConsumerStatus[]>;
}

interface Tracked {
  readonly log: EventLog;
  readonly positions: Map<number, bigint>;
  lastProgressAt: number;
  lastErrorAt: number;
  lastError: string | undefined;
}

const endPositionsTimeoutMs = 2_000;

async function endPositionsOf(log: EventLog): Promise<ReadonlyMap<number, bigint> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), endPositionsTimeoutMs);
  });
  try {
    return await Promise.race([log.endPositions(), timeout]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

function lagOf(tracked: Tracked, end: ReadonlyMap<number, bigint>): number {
  let lag = 0n;
  for (const [partition, position] of tracked.positions) {
    const last = end.get(partition);
    if (last !== undefined && last > position) lag += last - position;
  }
  return Number(lag);
}

const byRegistry = new WeakMap<Registry, ConsumerHealth>();

/** The consumer health of a process, kept with its metrics registry (one per registry). */
export function consumerHealth(registry: Registry, options: ConsumerHealthOptions = {}): ConsumerHealth {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const laggingAfterMs = options.laggingAfterMs ?? 15_000;
  const stuckAfterMs = options.stuckAfterMs ?? 60_000;
  const consumers = new Map<string, Tracked>();

  async function report(): Promise<ConsumerStatus[]> {
    const now = Date.now();
    return Promise.all(
      [...consumers].map(async ([name, tracked]): Promise<ConsumerStatus> => {
        const end = await endPositionsOf(tracked.log);
        const lag = end ? lagOf(tracked, end) : null;
        const idleMs = now - tracked.lastProgressAt;
        const failing = tracked.lastErrorAt > tracked.lastProgressAt;
        const waiting = lag === null || lag > 0;
        const state: ConsumerState = failing || (waiting && idleMs >= stuckAfterMs) ? 'stuck' : waiting && idleMs >= laggingAfterMs ? 'lagging' : 'ok';
        return {
          consumer: name,
          state,
          lag,
          last_commit_age_seconds: Math.round(idleMs / 100) / 10,
          ...(failing && tracked.lastError ? { last_error: tracked.lastError } : {}),
        };
      }),
    );
  }

  // One report serves the gauges of a scrape (they are collected one after another).
  let lastReport: Promise<ConsumerStatus[]> | undefined;
  const cachedReport = (): Promise<ConsumerStatus[]> => {
    lastReport ??= report().finally(() => setTimeout(() => (lastReport = undefined), 500).unref());
    return lastReport;
  };
  const gauges: ReadonlyArray<{ name: string; help: string; value: (status: ConsumerStatus) => number | null }> = [
    { name: 'vigil_consumer_lag', help: 'Records between a consumer of the event log and the end of the log (partitions it handles)', value: (status) => status.lag },
    { name: 'vigil_consumer_last_commit_age_seconds', help: 'Seconds since a consumer of the event log last moved its position', value: (status) => status.last_commit_age_seconds },
    {
      name: 'vigil_consumer_stuck',
      help: '1 when a consumer of the event log is stuck (failing since its last progress, or records waiting and no progress for 60 s)',
      value: (status) => (status.state === 'stuck' ? 1 : 0),
    },
  ];
  for (const { name, help, value } of gauges) {
    const gauge: Gauge<'consumer'> = new Gauge({
      name,
      help,
      labelNames: ['consumer'],
      registers: [registry],
      async collect() {
        for (const status of await cachedReport()) {
          const current = value(status);
          if (current !== null) gauge.set({ consumer: status.consumer }, current);
        }
      },
    });
  }

  const health: ConsumerHealth = {
    track(name, log) {
      let tracked = consumers.get(name);
      if (!tracked) {
        tracked = { log, positions: new Map(), lastProgressAt: Date.now(), lastErrorAt: 0, lastError: undefined };
        consumers.set(name, tracked);
      }
      const current = tracked;
      return {
        advanced(positions) {
          for (const [partition, position] of positions) current.positions.set(partition, position);
          current.lastProgressAt = Date.now();
        },
        failed(error) {
          current.lastErrorAt = Date.now();
          current.lastError = error instanceof Error ? error.message.slice(0, 500) : String(error).slice(0, 500);
        },
      };
    },
    report,
  };
  byRegistry.set(registry, health);
  return health;
}
