/**
 * The EventLog port on Apache Kafka (distributed mode): one topic keyed by resource id.
 *
 * - append: idempotent producer, acks=all, concurrent appends coalesced into few produce
 *   requests (kafka-appender.ts); bounded by `requestTimeoutMs`, then LogUnavailableError.
 * - consume: a consumer group member with explicit commits (kafka-consumer.ts).
 * - readSince: a group-less reader, by timestamp (kafka-reader.ts).
 */
import { Admin, Producer, ProduceAcks } from '@platformatic/kafka';
import { type ConsumeOptions, type EventLog, type LogRecord, LogUnavailableError, type Subscription } from '../ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { KafkaAppender } from './kafka-appender.ts';
import { startGroupMember } from './kafka-consumer.ts';
import { unavailable, withDeadline } from './kafka-errors.ts';
import { clientOptions, type KafkaEventLogOptions, type KafkaSettings, resolveSettings } from './kafka-options.ts';
import { readTopicSince } from './kafka-reader.ts';
import { latest } from './kafka-offsets.ts';
import { ensureTopic } from './kafka-topic.ts';

export type { KafkaEventLogOptions, KafkaLogger, GroupTuning } from './kafka-options.ts';

/**
 * Connects to Kafka, creates the topic when it is missing, and returns the log. Rejects with
 * LogUnavailableError when the cluster cannot be reached.
 */
export async function createKafkaEventLog(options: KafkaEventLogOptions): Promise<EventLog> {
  const settings = resolveSettings(options);
  const admin = new Admin(clientOptions(settings, 'admin'));
  // Idempotent: broker-side dedupe of internal retries, per-partition order kept. The library
  // replaces `retries <= 1` by "retry forever" for idempotent producers: keep it at 2.
  const producer = new Producer({ ...clientOptions(settings, 'producer'), idempotent: true, acks: ProduceAcks.ALL });
  try {
    const partitions = await withDeadline(
      ensureTopic(admin, { topic: settings.topic, partitions: options.partitions, replicationFactor: options.replicationFactor }, settings.logger, settings.requestTimeoutMs),
      Math.max(settings.requestTimeoutMs * 3, 15_000),
      `preparing topic ${settings.topic}`,
    );
    return new KafkaEventLog(settings, partitions, admin, producer);
  } catch (error) {
    await Promise.allSettled([admin.close(), producer.close(true)]);
    throw unavailable(`connecting to ${settings.brokers.join(',')}`, error);
  }
}

class KafkaEventLog implements EventLog {
  readonly partitions: number;
  readonly #settings: KafkaSettings;
  readonly #admin: Admin;
  readonly #producer: Producer;
  readonly #appender: KafkaAppender;
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  constructor(settings: KafkaSettings, partitions: number, admin: Admin, producer: Producer) {
    this.partitions = partitions;
    this.#settings = settings;
    this.#admin = admin;
    this.#producer = producer;
    this.#appender = new KafkaAppender(producer, settings.topic, partitions, settings.requestTimeoutMs, settings.lingerMs);
  }

  append(events: readonly VigilEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(new LogUnavailableError('the Kafka event log is closed'));
    return this.#appender.append(events);
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    if (this.#closed) throw new Error('the Kafka event log is closed');
    const member = await startGroupMember(this.#settings, options);
    const subscriptions = this.#subscriptions;
    const subscription: Subscription = {
      async close() {
        subscriptions.delete(subscription);
        await member.close();
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  readSince(from: Date, until?: Date): AsyncIterable<LogRecord> {
    return readTopicSince(this.#settings, this.partitions, from, until);
  }

  async endPositions(): Promise<ReadonlyMap<number, bigint>> {
    const partitions = Array.from({ length: this.partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: latest }));
    const listed = await withDeadline(this.#admin.listOffsets({ topics: [{ name: this.#settings.topic, partitions }] }), this.#settings.requestTimeoutMs, 'listing the end offsets');
    const result = new Map<number, bigint>();
    for (const topic of listed) for (const partition of topic.partitions) result.set(partition.partitionIndex, partition.offset);
    return result;
  }

  async check(): Promise<void> {
    await withDeadline(
      this.#admin.metadata({ topics: [this.#settings.topic], forceUpdate: true }),
      Math.min(this.#settings.requestTimeoutMs, 3000),
      'metadata request',
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#appender.drain();
    await Promise.allSettled([this.#producer.close(true), this.#admin.close()]);
  }
}
