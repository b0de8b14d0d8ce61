import type { ClusterMetadata, ConnectionPool, Consumer, FetchOptions } from '@platformatic/kafka';
import type { KafkaLogger } from './kafka-options.ts';
import { decodeFetch, type FetchedPartition, type FetchResponse } from './kafka-records.ts';

type FetchRequestTopic = FetchOptions<Buffer, Buffer, Buffer, Buffer>['topics'][number];

const maxBytesPerPartition = 4 * 1024 * 1024;
const maxBytesPerFetch = 16 * 1024 * 1024;

/**
 * Fetches one topic's partitions from their leaders with the consumer's Fetch API (no group
 * needed), on a connection pool of its own so a long-polling fetch never delays the heartbeats
 * and group requests the consumer sends to the same broker.
 */
export class PartitionFetcher {
  readonly #consumer: Consumer;
  readonly #pool: ConnectionPool;
  readonly #topic: string;
  readonly #logger: KafkaLogger;

  constructor(consumer: Consumer, pool: ConnectionPool, topic: string, logger: KafkaLogger) {
    this.#consumer = consumer;
    this.#pool = pool;
    this.#topic = topic;
    this.#logger = logger;
  }

  /** Fetches every partition in `from` starting at its offset; partitions without new records are left out. */
  async fetch(from: ReadonlyMap<number, bigint>, maxWaitMs: number): Promise<FetchedPartition[]> {
    if (from.size === 0) return [];
    const metadata = await this.#consumer.metadata({ topics: [this.#topic] });
    const byLeader = this.#groupByLeader(metadata, from);
    const responses = await Promise.all(
      [...byLeader].map(([node, topics]) =>
        this.#consumer.fetch({
          node,
          topics,
          maxWaitTime: maxWaitMs,
          minBytes: 1,
          maxBytes: maxBytesPerFetch,
          connectionPool: this.#pool,
        }),
      ),
    );
    return responses.flatMap((response: FetchResponse) =>
      decodeFetch(response, from, (bad) =>
        this.#logger.error({ topic: this.#topic, ...bad, offset: String(bad.offset) }, 'skipping a Kafka record that is not a Vigil event'),
      ),
    );
  }

  #groupByLeader(metadata: ClusterMetadata, from: ReadonlyMap<number, bigint>): Map<number, FetchRequestTopic[]> {
    const topic = metadata.topics.get(this.#topic);
    if (!topic) throw new Error(`Kafka topic ${this.#topic} is not in the cluster metadata`);
    const byLeader = new Map<number, FetchRequestTopic[]>();
    for (const [partition, fetchOffset] of from) {
      const leader = topic.partitions[partition]?.leader ?? -1;
      if (leader < 0) throw new Error(`Kafka partition ${this.#topic}/${partition} has no leader`);
      let topics = byLeader.get(leader);
      if (!topics) {
        topics = [{ topicId: topic.id, partitions: [] }];
        byLeader.set(leader, topics);
      }
      topics[0]!.partitions.push({
        partition,
        fetchOffset,
        partitionMaxBytes: maxBytesPerPartition,
        currentLeaderEpoch: -1,
        lastFetchedEpoch: -1,
      });
    }
    return byLeader;
  }
}
