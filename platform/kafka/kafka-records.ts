import { type Consumer, IS_CONTROL, type MessageToProduce, murmur2 } from '@platformatic/kafka';
import type { LogRecord } from '../ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';

/** A Fetch API response (the library does not export the type from its entry point). */
export type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;

/**
 * Partition of a key: murmur2 masked to 31 bits, the same as Kafka's Java client (the library's
 * default partitioner uses `>>> 0`, which places keys on other partitions).
 */
export function partitionOf(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

export interface EncodedEvent {
  readonly message: MessageToProduce;
  readonly partition: number;
  readonly bytes: number;
}

export function encodeEvent(topic: string, event: VigilEvent, partitions: number): EncodedEvent {
  const key = Buffer.from(event.resource.id);
  const value = Buffer.from(JSON.stringify(event));
  const received = Date.parse(event.received);
  const partition = partitionOf(key, partitions);
  return {
    message: {
      topic,
      partition,
      key,
      value,
      timestamp: BigInt(Number.isNaN(received) ? Date.now() : received),
    },
    partition,
    bytes: key.length + value.length + 32,
  };
}

/** Records of one partition in a fetch response, and where the next fetch of it starts. */
export interface FetchedPartition {
  readonly partition: number;
  readonly records: LogRecord[];
  /** Offset after the last batch returned (control batches included); undefined when none was. */
  readonly nextOffset: bigint | undefined;
}

/** A record that is not a JSON event: reported, skipped, never handed out. */
export interface UndecodableRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly reason: string;
}

/**
 * Decodes the records of a fetch response. `requested` maps each fetched partition to its fetch
 * offset: records before it (a batch starts earlier) and partitions not asked for (an incremental
 * fetch session may return lingering ones) are dropped.
 */
export function decodeFetch(
  response: FetchResponse,
  requested: ReadonlyMap<number, bigint>,
  onUndecodable: (record: UndecodableRecord) => void,
): FetchedPartition[] {
  const result: FetchedPartition[] = [];
  for (const topic of response.responses) {
    for (const part of topic.partitions) {
      const from = requested.get(part.partitionIndex);
      if (from === undefined || !part.records || part.records.length === 0) continue;
      const records: LogRecord[] = [];
      let nextOffset: bigint | undefined;
      for (const batch of part.records) {
        nextOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if (batch.attributes & IS_CONTROL) continue;
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta);
          if (offset < from) continue;
          const event = parseEvent(record.value);
          if (typeof event === 'string') {
            onUndecodable({ partition: part.partitionIndex, offset, reason: event });
            continue;
          }
          const timestamp = new Date(Number(batch.firstTimestamp + record.timestampDelta));
          records.push({ partition: part.partitionIndex, offset, timestamp, event });
        }
      }
      if (nextOffset !== undefined && nextOffset > from) {
        result.push({ partition: part.partitionIndex, records, nextOffset });
      }
    }
  }
  return result;
}

/** The event, or why the value is not one. The log only holds what `append` wrote. */
function parseEvent(value: Buffer | null): VigilEvent | string {
  if (!value) return 'empty value';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
  if (!isEventShaped(parsed)) return 'not a Vigil event (id, event and resource.id are required)';
  return parsed;
}

function isEventShaped(value: unknown): value is VigilEvent {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { id?: unknown; event?: unknown; resource?: { id?: unknown } | null };
  return (
    typeof candidate.id === 'string' &&
    typeof candidate.event === 'string' &&
    typeof candidate.resource === 'object' &&
    candidate.resource !== null &&
    typeof candidate.resource.id === 'string'
  );
}
