import { Consumer, ConnectionPool } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
import type { LogRecord } from '../ports/event-log.ts';
import { unavailable } from './kafka-errors.ts';
import { PartitionFetcher } from './kafka-fetcher.ts';
import { latest, offsetsAt } from './kafka-offsets.ts';
import { clientOptions, type KafkaSettings } from './kafka-options.ts';

/** Consecutive fetches that may return nothing before the end offset is reached. */
const maxEmptyFetches = 20;

/**
 * Every record accepted at or after `from` (and before `until`), partition by partition, read
 * with a consumer that never joins a group: no committed position of any group is touched.
 * Each partition is read from the first offset whose timestamp is >= `from` (ListOffsets by
 * timestamp) up to its end offset as it was when the read started; reading a partition stops at
 * the first record whose timestamp is >= `until`.
 */
export async function* readTopicSince(settings: KafkaSettings, partitions: number, from: Date, until?: Date): AsyncGenerator<LogRecord> {
  const connection = clientOptions(settings, `reader-${randomUUID()}`);
  // The group id is required by the client but never used: this consumer joins no group.
  const consumer = new Consumer({ ...connection, groupId: connection.clientId, autocommit: false });
  const pool = new ConnectionPool(connection.clientId, { connectTimeout: connection.connectTimeout, requestTimeout: settings.requestTimeoutMs });
  consumer.topics.track(settings.topic);
  const fetcher = new PartitionFetcher(consumer, pool, settings.topic, settings.logger);
  const fromMs = from.getTime();
  const untilMs = until?.getTime() ?? Number.POSITIVE_INFINITY;
  try {
    const [starts, ends] = await Promise.all([offsetsAt(consumer, settings.topic, BigInt(fromMs)), offsetsAt(consumer, settings.topic, latest)]);
    for (let partition = 0; partition < partitions; partition++) {
      const start = starts.get(partition);
      const end = ends.get(partition);
      // -1: no record at or after `from` in this partition.
      if (start === undefined || end === undefined || start < 0n) continue;
      let position = start;
      let emptyFetches = 0;
      reading: while (position < end) {
        const [fetched] = await fetcher.fetch(new Map([[partition, position]]), 0);
        if (!fetched || fetched.nextOffset === undefined) {
          if (++emptyFetches > maxEmptyFetches) throw new Error(`no records returned at offset ${position} of partition ${partition}`);
          continue;
        }
        emptyFetches = 0;
        for (const record of fetched.records) {
          if (record.offset >= end) break reading;
          const at = record.timestamp.getTime();
          if (at >= untilMs) break reading;
          if (at >= fromMs) yield record;
        }
        position = fetched.nextOffset;
      }
    }
  } catch (error) {
    throw unavailable('reading the event log by time', error);
  } finally {
    await consumer.close(true).catch(() => {});
    await pool.close().catch(() => {});
  }
}

