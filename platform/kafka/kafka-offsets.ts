import { type Consumer, ListOffsetTimestamps } from '@platformatic/kafka';

export const earliest = ListOffsetTimestamps.EARLIEST;
/** The end of a partition: the offset the next record will get (last stable offset). */
export const latest = ListOffsetTimestamps.LATEST;

/**
 * ListOffsets for `partitions` (all of the topic's when omitted): per partition, the first
 * offset whose timestamp is >= `timestamp` (-1 when there is none), or the earliest/latest offset.
 */
export async function offsetsAt(consumer: Consumer, topic: string, timestamp: bigint, partitions?: readonly number[]): Promise<Map<number, bigint>> {
  const listed = await consumer.listOffsets({
    topics: [topic],
    timestamp,
    ...(partitions ? { partitions: { [topic]: [...partitions] } } : {}),
  });
  const offsets = listed.get(topic) ?? [];
  const result = new Map<number, bigint>();
  offsets.forEach((offset, partition) => {
    if (!partitions || partitions.includes(partition)) result.set(partition, offset);
  });
  return result;
}

/** The consumer group's committed offsets of `partitions`; partitions without a commit are left out. */
export async function committedOffsets(consumer: Consumer, topic: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
  const committed = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: [...partitions] }] });
  const offsets = committed.get(topic) ?? [];
  const result = new Map<number, bigint>();
  for (const partition of partitions) {
    const offset = offsets[partition];
    if (offset !== undefined && offset >= 0n) result.set(partition, offset);
  }
  return result;
}
