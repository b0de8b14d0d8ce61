/** A pino-compatible logger: `logger.warn({ err }, 'message')`. */
export interface KafkaLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export const silentLogger: KafkaLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export interface KafkaEventLogOptions {
  /** Bootstrap brokers as `host:port`. */
  readonly brokers: readonly string[];
  /** The event topic, created when missing. */
  readonly topic: string;
  /** Partition count used when the topic is created. */
  readonly partitions: number;
  /** Client id prefix; each Kafka client gets a suffix (`-producer`, `-admin`, `-<group>`). */
  readonly clientId: string;
  /** Replication factor when the topic is created (default: min(3, brokers in the cluster)). */
  readonly replicationFactor?: number;
  readonly logger?: KafkaLogger;
  /**
   * Upper bound for one append, a health check or a metadata call (default 5000 ms). When it
   * passes, the call rejects with LogUnavailableError.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Produce requests go out at most once per this many ms (default 0: as soon as the previous
   * one is answered). An append made longer than that after the last request is sent at once;
   * under load, appends wait up to this long and share a request (see KafkaAppender).
   */
  readonly lingerMs?: number;
  /** Consumer group membership tuning (defaults suit a small cluster; see kafka-consumer.ts). */
  readonly group?: GroupTuning;
}

export interface GroupTuning {
  /** The broker drops a member it did not hear from for this long (default 10000 ms). */
  readonly sessionTimeoutMs?: number;
  /** How often a member heartbeats; also how quickly it notices a rebalance (default 1000 ms). */
  readonly heartbeatIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin during a rebalance (default 30000 ms). */
  readonly rebalanceTimeoutMs?: number;
  /** Longest a fetch waits at the broker for new records (default 500 ms). */
  readonly fetchMaxWaitMs?: number;
  /** Shortest time between two offset commits of a member; rebalances and close commit at once (default 1000 ms). */
  readonly commitIntervalMs?: number;
}

/** Options after defaults, shared by the modules of this adapter. */
export interface KafkaSettings {
  readonly brokers: string[];
  readonly topic: string;
  readonly clientId: string;
  readonly logger: KafkaLogger;
  readonly requestTimeoutMs: number;
  readonly lingerMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly fetchMaxWaitMs: number;
  readonly commitIntervalMs: number;
}

export function resolveSettings(options: KafkaEventLogOptions): KafkaSettings {
  if (options.brokers.length === 0) throw new Error('Kafka event log: at least one broker is required');
  if (!Number.isInteger(options.partitions) || options.partitions < 1) {
    throw new Error(`Kafka event log: partitions must be a positive integer, got ${options.partitions}`);
  }
  return {
    brokers: [...options.brokers],
    topic: options.topic,
    clientId: options.clientId,
    logger: options.logger ?? silentLogger,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    lingerMs: options.lingerMs ?? 0,
    sessionTimeoutMs: options.group?.sessionTimeoutMs ?? 10_000,
    heartbeatIntervalMs: options.group?.heartbeatIntervalMs ?? 1000,
    rebalanceTimeoutMs: options.group?.rebalanceTimeoutMs ?? 30_000,
    fetchMaxWaitMs: options.group?.fetchMaxWaitMs ?? 500,
    commitIntervalMs: options.group?.commitIntervalMs ?? 1000,
  };
}

/**
 * Connection options shared by every client of the adapter. `retries`/`retryDelay` are kept low
 * because the adapter bounds each call itself; `requestTimeout` stops a request to a hung broker.
 */
export function clientOptions(settings: KafkaSettings, suffix: string) {
  return {
    clientId: `${settings.clientId}-${suffix}`,
    bootstrapBrokers: settings.brokers,
    connectTimeout: Math.min(settings.requestTimeoutMs, 5000),
    requestTimeout: settings.requestTimeoutMs,
    timeout: settings.requestTimeoutMs,
    retries: 2,
    retryDelay: 250,
  };
}
