import { type Admin, findErrorBy } from '@platformatic/kafka';
import { pause } from './kafka-errors.ts';
import type { KafkaLogger } from './kafka-options.ts';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Default: min(3, number of brokers in the cluster). */
  readonly replicationFactor?: number;
}

/**
 * Creates the topic when it is missing (tolerating a concurrent creation by another process) and
 * waits until every partition has a leader. Returns the topic's actual partition count, which
 * differs from the requested one when the topic already existed with another count (logged).
 */
export async function ensureTopic(admin: Admin, spec: TopicSpec, logger: KafkaLogger, timeoutMs: number): Promise<number> {
  const cluster = await admin.metadata({ topics: [] });
  const replicas = spec.replicationFactor ?? Math.min(3, cluster.brokers.size);
  try {
    await admin.createTopics({ topics: [spec.topic], partitions: spec.partitions, replicas });
    logger.info({ topic: spec.topic, partitions: spec.partitions, replicas }, 'created Kafka topic');
  } catch (error) {
    if (!findErrorBy(error as Error, 'apiId', 'TOPIC_ALREADY_EXISTS')) throw error;
  }
  const partitions = await waitForLeaders(admin, spec.topic, timeoutMs);
  if (partitions !== spec.partitions) {
    logger.warn(
      { topic: spec.topic, configured: spec.partitions, actual: partitions },
      'Kafka topic exists with a different partition count than configured; using the existing count',
    );
  }
  return partitions;
}

/** Polls metadata until the topic is known and each partition has a leader. */
async function waitForLeaders(admin: Admin, topic: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + Math.max(timeoutMs, 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      const found = metadata.topics.get(topic);
      if (found && found.partitionsCount > 0 && found.partitions.every((partition) => partition.leader >= 0)) {
        return found.partitionsCount;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Kafka topic ${topic} has no leader for every partition yet`, { cause: lastError });
    }
    await pause(100);
  }
}

export async function deleteTopic(admin: Admin, topic: string): Promise<void> {
  try {
    await admin.deleteTopics({ topics: [topic] });
  } catch (error) {
    if (!findErrorBy(error as Error, 'apiId', 'UNKNOWN_TOPIC_OR_PARTITION')) throw error;
  }
}
