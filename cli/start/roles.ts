import type { Config } from '../../platform/config.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { Infrastructure } from './infrastructure.ts';

/** The roles a Vigil process can run (`vigil start --role`); all of them by default. */
export const roles = ['ingest', 'api', 'triggers', 'actions'] as const;
export type Role = (typeof roles)[number];

/** A running part of a role, stopped in reverse start order. */
export interface Stoppable {
  close(): Promise<void>;
}

/** What every role is started with. */
export interface RoleContext {
  readonly config: Config;
  readonly infrastructure: Infrastructure;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * How old an outbox row must be before a relay's sweep takes it, when the rows are handed over
 * in-process as they commit: well beyond a hand-off's usual milliseconds, so that the sweep
 * rarely repeats one (a repeat is harmless: same job id, same event id).
 */
export const handOffSweepAfterMs = 5_000;

