/**
 * A consumer group member over the event topic, implementing `EventLog.consume`.
 *
 * The library's Consumer manages membership (JoinGroup/SyncGroup, heartbeats, rejoining when the
 * coordinator starts a rebalance); this module runs its own fetch loop instead of the library's
 * MessagesStream, because the port needs things the stream does not offer: an asynchronous
 * `positions` lookup before a new assignment's first fetch, strictly sequential batches, and
 * explicit commits of exactly what `handle` finished.
 *
 * Delivery is at-least-once:
 * - A batch is committed (OffsetCommit for the group) only after `handle` resolved, in the
 *   background while the next batch is handled; if `handle` rejects, nothing of that batch is
 *   committed and the member stops (and leaves the group). `close()` waits for the last commit.
 * - Every assignment (each generation of the group) starts its partitions afresh, at the position
 *   `positions()` returns, else at the group's committed offset, else at the earliest offset.
 *   Records fetched for an earlier generation but not handed out yet are dropped.
 * - The library rejoins a rebalance on its own heartbeat timer, without waiting for a `handle` in
 *   progress. A batch being handled while its partition moves to another member can therefore be
 *   handled by both: the new owner starts at the last committed position (Kafka) or at what
 *   `positions()` returns (an external store), which does not include the batch still in flight
 *   on the old owner. Consumers that keep positions elsewhere must make handling idempotent or
 *   fence stale writers themselves: the port hands out no generation to fence with.
 */
import { Consumer, ConnectionPool, findErrorBy, type ConsumerGroupJoinPayload } from '@platformatic/kafka';
import type { ConsumeOptions, LogBatch, LogRecord, Subscription } from '../ports/event-log.ts';
import { describeError, pause, unavailable } from './kafka-errors.ts';
import { PartitionFetcher } from './kafka-fetcher.ts';
import { committedOffsets, earliest, latest, offsetsAt } from './kafka-offsets.ts';
import { clientOptions, type KafkaSettings } from './kafka-options.ts';
import type { FetchedPartition } from './kafka-records.ts';
import { asError } from '../as-error.ts';

const defaultMaxBatchSize = 500;

interface Assignment {
  /** Increases with every group join of this member (the loop compares it, not the generation). */
  readonly epoch: number;
  readonly partitions: readonly number[];
}

/** How long a start-up waits for a group coordinator that is not ready (a fresh cluster). */
const coordinatorWaitMs = 60_000;

const coordinatorNotReady = ['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS'] as const;

/** The broker's answer while a cluster's group coordinator is still being set up: retry, it is not an outage. */
export function isCoordinatorNotReady(error: unknown): boolean {
  return error instanceof Error && coordinatorNotReady.some((id) => findErrorBy(error, 'apiId', id) !== null);
}

export async function startGroupMember(settings: KafkaSettings, options: ConsumeOptions): Promise<Subscription> {
  const member = new GroupMember(settings, options);
  await member.start();
  return member;
}

class GroupMember implements Subscription {
  readonly #settings: KafkaSettings;
  readonly #options: ConsumeOptions;
  readonly #maxBatchSize: number;
  /** ConsumeOptions.gatherMs (0: no gathering). */
  readonly #gatherMs: number;
  readonly #consumer: Consumer;
  readonly #fetchPool: ConnectionPool;
  readonly #fetcher: PartitionFetcher;
  readonly #stop = new AbortController();
  readonly #groupOptions: { sessionTimeout: number; rebalanceTimeout: number; heartbeatInterval: number };
  /** Latest assignment announced by the library. */
  #assignment: Assignment = { epoch: 0, partitions: [] };
  /** Assignment the loop has prepared positions for. */
  #preparedEpoch = -1;
  /** Next offset to hand out, per owned partition. */
  #positions = new Map<number, bigint>();
  /** Positions handled but not committed yet (a commit failed); retried with the next commit. */
  #uncommitted = new Map<number, bigint>();
  #membershipLost = false;
  /** The chain of background commits (never rejects). */
  #commits: Promise<void> = Promise.resolve();
  #commitQueued = false;
  /** A commit waiting for the commit interval to pass. */
  #commitTimer: NodeJS.Timeout | undefined;
  #lastCommitAt = 0;
  /** Settles when the latest fetch has (never rejects). */
  #lastFetch: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  constructor(settings: KafkaSettings, options: ConsumeOptions) {
    this.#settings = settings;
    this.#options = options;
    this.#maxBatchSize = Math.max(1, options.maxBatchSize ?? defaultMaxBatchSize);
    this.#gatherMs = options.gatherMs ?? 0;
    this.#groupOptions = {
      sessionTimeout: settings.sessionTimeoutMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
    };
    const connection = clientOptions(settings, `consumer-${options.group}`);
    this.#consumer = new Consumer({
      ...connection,
      // The broker holds a JoinGroup until every member rejoined (up to the rebalance timeout).
      requestTimeout: settings.rebalanceTimeoutMs + settings.requestTimeoutMs,
      groupId: options.group,
      autocommit: false,
      ...this.#groupOptions,
    });
    // Fetches long-poll at the broker: their requests need a longer timeout.
    this.#fetchPool = new ConnectionPool(connection.clientId, {
      connectTimeout: connection.connectTimeout,
      requestTimeout: settings.requestTimeoutMs + settings.fetchMaxWaitMs,
    });
    this.#fetcher = new PartitionFetcher(this.#consumer, this.#fetchPool, settings.topic, settings.logger);
    this.#consumer.topics.track(settings.topic);
    this.#consumer.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => this.#onJoin(payload));
    // Emitted when a rejoin the library started from a heartbeat failed; it then stops heartbeating.
    this.#consumer.on('error', (error: Error) => {
      this.#membershipLost = true;
      settings.logger.warn({ group: options.group, err: error }, 'Kafka consumer lost its group membership; rejoining');
      this.#wake?.();
    });
  }

  async start(): Promise<void> {
    // A fresh cluster creates __consumer_offsets on the first join and answers "not the correct
    // coordinator" (or "loading") meanwhile: wait for it instead of failing the start-up.
    const deadline = Date.now() + coordinatorWaitMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#consumer.joinGroup({ ...this.#groupOptions });
        break;
      } catch (error) {
        if (isCoordinatorNotReady(error) && Date.now() < deadline && !this.#stop.signal.aborted) {
          this.#settings.logger.warn({ group: this.#options.group, attempt }, `Kafka group coordinator not ready yet (${error instanceof Error ? describeError(error) : String(error)}); retrying`);
          this.#consumer.clearMetadata();
          await pause(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)), this.#stop.signal);
          continue;
        }
        await this.#shutDown();
        throw unavailable(`joining consumer group ${this.#options.group}`, error);
      }
    }
    this.#loop = this.#run();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      this.#wake?.();
      await this.#loop;
      await this.#shutDown();
    })();
    return this.#closing;
  }

  #onJoin(payload: ConsumerGroupJoinPayload): void {
    const mine = payload.assignments?.find((assignment) => assignment.topic === this.#settings.topic);
    const partitions = [...(mine?.partitions ?? [])].sort((a, b) => a - b);
    this.#assignment = { epoch: this.#assignment.epoch + 1, partitions };
    this.#settings.logger.debug(
      { group: this.#options.group, generation: payload.generationId, partitions },
      'Kafka consumer group assignment',
    );
    this.#wake?.();
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  async #run(): Promise<void> {
    let backoff = 0;
    let prefetch: Promise<FetchedPartition[]> | undefined;
    while (!this.#stopped) {
      try {
        if (this.#membershipLost) {
          prefetch = undefined;
          await this.#consumer.joinGroup({ ...this.#groupOptions });
          this.#membershipLost = false;
          continue;
        }
        if (this.#assignment.epoch !== this.#preparedEpoch) {
          prefetch = undefined;
          await this.#prepare(this.#assignment);
          continue;
        }
        if (this.#positions.size === 0) {
          await this.#waitForChange();
          continue;
        }
        const epoch = this.#preparedEpoch;
        const fetched = await this.#untilStopped(prefetch ?? this.#fetch(this.#positions));
        prefetch = undefined;
        if (fetched === undefined || epoch !== this.#assignment.epoch) continue;
        const after = new Map(this.#positions);
        for (const part of fetched) if (part.nextOffset !== undefined) after.set(part.partition, part.nextOffset);
        const records = fetched.flatMap((part) => part.records);
        // ConsumeOptions.gatherMs: after a batch that was not full, records accumulate for a while
        // before the next fetch. (Waiting at the broker instead — a fetch with a large minBytes —
        // cost the broker more CPU than the fetches it saved: it re-checks the waiting fetch on
        // every append.)
        const gathering = this.#gatherMs > 0 && records.length > 0 && records.length < this.#maxBatchSize;
        // Otherwise fetch the next records while these are handled.
        if (records.length > 0 && !gathering) prefetch = this.#fetch(after);
        const handledAll = await this.#handOut(records, epoch);
        if (handledAll && epoch === this.#assignment.epoch) this.#positions = after;
        else prefetch = undefined;
        backoff = 0;
        if (gathering) await pause(this.#gatherMs, this.#stop.signal);
      } catch (error) {
        if (this.#stopped) break;
        if (error instanceof HandlerError) {
          await this.#fail(error.cause);
          return;
        }
        prefetch = undefined;
        if (error instanceof Error && findErrorBy(error, 'apiId', 'OFFSET_OUT_OF_RANGE')) {
          await this.#clampPositions().catch(() => {});
          continue;
        }
        backoff = Math.min(5000, Math.max(250, backoff * 2));
        this.#settings.logger.warn(
          { group: this.#options.group, err: error, retryInMs: backoff },
          `Kafka consumer error: ${error instanceof Error ? describeError(error) : String(error)}`,
        );
        this.#consumer.clearMetadata();
        await pause(backoff, this.#stop.signal);
      }
    }
    await this.#commitNow();
  }

  /** Hands `records` to `handle` in batches; false when it stopped early (closing or reassigned). */
  async #handOut(records: readonly LogRecord[], epoch: number): Promise<boolean> {
    for (let start = 0; start < records.length; start += this.#maxBatchSize) {
      if (this.#stopped || epoch !== this.#assignment.epoch) return false;
      const slice = records.slice(start, start + this.#maxBatchSize);
      const nextPositions = new Map<number, bigint>();
      for (const record of slice) nextPositions.set(record.partition, record.offset + 1n);
      const batch: LogBatch = { records: slice, nextPositions };
      try {
        await this.#options.handle(batch);
      } catch (error) {
        throw new HandlerError(error);
      }
      for (const [partition, offset] of nextPositions) {
        this.#positions.set(partition, offset);
        this.#uncommitted.set(partition, offset);
      }
      this.#commitSoon();
    }
    return true;
  }

  /**
   * Commits the handled positions in the background, one OffsetCommit at a time and at most one
   * per commit interval: the next batches are handled meanwhile, and their positions go out
   * together in the next commit. (Awaiting each commit before the next batch cut consumption from
   * ~150k to ~40k records/s; a commit per batch was a quarter of all Kafka requests under load.)
   * close() commits at once. A crash, and a rebalance that moves a partition away, redeliver to
   * the partition's next owner what was handled since the last commit (at most an interval's
   * worth: the library rejoins before this member can commit). Both consumer groups tolerate it:
   * the evaluator skips records below the positions it stores with its state, and the event
   * history ignores rows it already has.
   */
  #commitSoon(): void {
    if (this.#commitQueued || this.#commitTimer) return;
    const wait = this.#lastCommitAt + this.#settings.commitIntervalMs - Date.now();
    if (wait <= 0) {
      this.#queueCommit();
      return;
    }
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      this.#queueCommit();
    }, wait);
    this.#commitTimer.unref();
  }

  #queueCommit(): void {
    if (this.#commitQueued) return;
    this.#commitQueued = true;
    this.#commits = this.#commits.then(() => {
      this.#commitQueued = false;
      this.#lastCommitAt = Date.now();
      return this.#commitUncommitted();
    });
  }

  /** Resolves when every handled position was committed (or its commit failed and was logged). */
  async #commitNow(): Promise<void> {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    this.#queueCommit();
    await this.#commits;
  }

  /** Commits handled positions; a failure is logged and retried with the next commit. Never rejects. */
  async #commitUncommitted(): Promise<void> {
    if (this.#uncommitted.size === 0) return;
    const offsets = [...this.#uncommitted].map(([partition, offset]) => ({
      topic: this.#settings.topic,
      partition,
      offset,
      leaderEpoch: -1,
    }));
    try {
      await this.#consumer.commit({ offsets });
      for (const { partition, offset } of offsets) {
        if (this.#uncommitted.get(partition) === offset) this.#uncommitted.delete(partition);
      }
    } catch (error) {
      this.#settings.logger.warn(
        { group: this.#options.group, err: error },
        'Kafka offset commit failed; the handled records may be delivered again',
      );
    }
  }

  /** Sets the start position of every partition of a new assignment. */
  async #prepare(assignment: Assignment): Promise<void> {
    const { partitions } = assignment;
    const topic = this.#settings.topic;
    // Positions handled under the previous assignment stay committable only for partitions still owned.
    for (const partition of this.#uncommitted.keys()) if (!partitions.includes(partition)) this.#uncommitted.delete(partition);
    await this.#commitNow();
    this.#uncommitted.clear();
    const positions = new Map<number, bigint>();
    if (partitions.length > 0) {
      let external: ReadonlyMap<number, bigint>;
      try {
        external = this.#options.positions ? await this.#options.positions(partitions) : new Map();
      } catch (error) {
        throw new HandlerError(error);
      }
      const rest = partitions.filter((partition) => !external.has(partition));
      const committed = rest.length > 0 ? await committedOffsets(this.#consumer, topic, rest) : new Map<number, bigint>();
      const missing = rest.filter((partition) => !committed.has(partition));
      const starts = missing.length > 0 ? await offsetsAt(this.#consumer, topic, earliest, missing) : new Map<number, bigint>();
      for (const partition of partitions) {
        positions.set(partition, external.get(partition) ?? committed.get(partition) ?? starts.get(partition) ?? 0n);
      }
    }
    if (assignment.epoch !== this.#assignment.epoch) return; // reassigned meanwhile: prepare again
    this.#positions = positions;
    this.#preparedEpoch = assignment.epoch;
    try {
      this.#options.onAssignment?.(partitions);
    } catch (error) {
      throw new HandlerError(error);
    }
  }

  /**
   * After OFFSET_OUT_OF_RANGE: moves positions before the log start (records deleted by retention
   * before this group read them) to the log start, and positions past the end to the end.
   */
  async #clampPositions(): Promise<void> {
    const partitions = [...this.#positions.keys()];
    const topic = this.#settings.topic;
    const [starts, ends] = await Promise.all([offsetsAt(this.#consumer, topic, earliest, partitions), offsetsAt(this.#consumer, topic, latest, partitions)]);
    for (const partition of partitions) {
      const position = this.#positions.get(partition)!;
      const start = starts.get(partition) ?? 0n;
      const end = ends.get(partition) ?? position;
      const clamped = position < start ? start : position > end ? end : position;
      if (clamped === position) continue;
      this.#settings.logger.error(
        { group: this.#options.group, partition, position: String(position), logStart: String(start), logEnd: String(end) },
        position < start
          ? 'Kafka records were deleted (retention) before this consumer group read them; continuing at the log start'
          : 'Kafka consumer position is past the end of the partition; continuing at the end',
      );
      this.#positions.set(partition, clamped);
    }
  }

  /**
   * Fetches from `from`, after the previous fetch settled: a dropped prefetch may still be in
   * flight, and two concurrent fetches would break the broker's incremental fetch session.
   */
  #fetch(from: ReadonlyMap<number, bigint>): Promise<FetchedPartition[]> {
    const previous = this.#lastFetch;
    const fetching = previous.then(() => this.#fetcher.fetch(from, this.#settings.fetchMaxWaitMs));
    // A dropped prefetch is never awaited: its failure is observed here and ignored.
    this.#lastFetch = fetching.then(
      () => {},
      () => {},
    );
    return fetching;
  }

  /** Resolves with the value, or undefined as soon as the member is stopping. */
  async #untilStopped<T>(operation: Promise<T>): Promise<T | undefined> {
    if (this.#stopped) return undefined;
    const signal = this.#stop.signal;
    let onAbort = (): void => {};
    const stopped = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([operation, stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve();
      };
      if (this.#stopped) this.#wake();
    });
  }

  async #fail(error: unknown): Promise<void> {
    const failure = asError(error);
    this.#stop.abort();
    await this.#commitNow(); // batches handled before the failing one stay committed
    await this.#shutDown();
    try {
      this.#options.onError?.(failure);
    } catch (error) {
      this.#settings.logger.error({ group: this.#options.group, err: error }, 'the onError callback of a Kafka consumer threw');
    }
  }

  /** Leaves the group and closes the connections; never throws. */
  #shutDown(): Promise<void> {
    this.#shutdown ??= this.#leaveAndDisconnect();
    return this.#shutdown;
  }

  async #leaveAndDisconnect(): Promise<void> {
    try {
      await this.#consumer.close(true);
    } catch (error) {
      this.#settings.logger.warn({ group: this.#options.group, err: error }, 'closing the Kafka consumer failed');
    }
    try {
      await this.#fetchPool.close();
    } catch {
      // connections to a stopped broker may fail to close cleanly; nothing is left to release
    }
  }
}

/** Marks a failure of the caller's code (handle, positions, onAssignment), which stops the member. */
class HandlerError extends Error {
  constructor(cause: unknown) {
    super('consumer callback failed', { cause });
  }
}
