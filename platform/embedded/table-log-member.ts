import type { ConsumeOptions, LogBatch, Subscription } from '../ports/event-log.ts';
import { Wakeup } from './wakeup.ts';
import { asError } from '../as-error.ts';

/** A consumer group of this process: its members share the partitions. */
export interface Group {
  readonly name: string;
  readonly members: Member[];
  /** Rebalances of the group, one after the other. */
  rebalancing: Promise<void>;
}

/** What a member needs of its log: positions, batches and leaving its group. */
export interface MemberLog {
  readonly pollIntervalMs: number;
  committedPositions(group: string, partitions: readonly number[]): Promise<Map<number, bigint>>;
  fetch(partitions: readonly number[], positions: ReadonlyMap<number, bigint>, limit: number): Promise<LogBatch>;
  commit(group: string, positions: ReadonlyMap<number, bigint>): Promise<void>;
  leave(group: Group, member: Member): Promise<void>;
}

/**
 * A member of a consumer group of the embedded log: consumes its assigned partitions from the
 * committed positions, commits after each handled batch, and pauses for a rebalance.
 */
export class Member implements Subscription {
  readonly #log: MemberLog;
  readonly #group: Group;
  readonly #options: ConsumeOptions;
  readonly #wakeup = new Wakeup();
  /** Partitions assigned by the last rebalance; `undefined` until the first one. */
  #assignment: number[] | undefined;
  #assignmentChanged = false;
  #owned: number[] = [];
  readonly #positions = new Map<number, bigint>();
  #paused = true;
  #busy = false;
  #idleWaiters: Array<() => void> = [];
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();
  /** Ends a gathering pause early (close). */
  #endGather: (() => void) | undefined;

  constructor(log: MemberLog, group: Group, options: ConsumeOptions) {
    this.#log = log;
    this.#group = group;
    this.#options = options;
  }

  start(): void {
    this.#loop = this.#run();
  }

  wake(): void {
    this.#wakeup.wake();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops handing out batches and resolves once none is in progress (rebalance, first half). */
  async pause(): Promise<void> {
    this.#paused = true;
    if (!this.#busy) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes the new assignment and carries on (rebalance, second half). */
  resume(partitions: number[]): void {
    this.#assignment = partitions;
    this.#assignmentChanged = true;
    this.#paused = false;
    this.#wakeup.wake();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    this.#wakeup.wake();
    this.#endGather?.();
    await this.#loop;
    await this.#log.leave(this.#group, this);
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopped) {
        if (this.#paused || this.#assignment === undefined) {
          await this.#wakeup.wait(this.#log.pollIntervalMs);
          continue;
        }
        this.#busy = true;
        let handled = 0;
        try {
          if (this.#assignmentChanged) {
            this.#assignmentChanged = false;
            await this.#assign(this.#assignment);
          }
          handled = await this.#consumeOnce();
        } finally {
          this.#busy = false;
          for (const resolve of this.#idleWaiters.splice(0)) resolve();
        }
        if (handled === 0 && !this.#stopped) await this.#wakeup.wait(this.#log.pollIntervalMs);
        else if (handled < (this.#options.maxBatchSize ?? 500) && !this.#stopped) await this.#gather();
      }
    } catch (error) {
      this.#stopped = true;
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
      // The member leaves its group; the others take over its partitions from the committed positions.
      await this.#log.leave(this.#group, this).catch(() => undefined);
      this.#options.onError?.(asError(error));
    }
  }

  /** ConsumeOptions.gatherMs: lets records accumulate after a batch that was not full. */
  async #gather(): Promise<void> {
    const ms = this.#options.gatherMs ?? 0;
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#endGather = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#endGather = undefined;
  }

  async #assign(partitions: number[]): Promise<void> {
    this.#owned = partitions;
    this.#positions.clear();
    if (partitions.length > 0) {
      for (const [partition, offset] of await this.#log.committedPositions(this.#group.name, partitions)) {
        this.#positions.set(partition, offset);
      }
      const overrides = (await this.#options.positions?.(partitions)) ?? new Map<number, bigint>();
      for (const [partition, offset] of overrides) {
        if (partitions.includes(partition)) this.#positions.set(partition, offset);
      }
    }
    this.#options.onAssignment?.([...partitions]);
  }

  /** Fetches, handles and commits one batch; returns the number of records handled. */
  async #consumeOnce(): Promise<number> {
    if (this.#owned.length === 0) return 0;
    const batch = await this.#log.fetch(this.#owned, this.#positions, this.#options.maxBatchSize ?? 500);
    if (batch.records.length === 0) return 0;
    await this.#options.handle(batch);
    await this.#log.commit(this.#group.name, batch.nextPositions);
    for (const [partition, offset] of batch.nextPositions) this.#positions.set(partition, offset);
    return batch.records.length;
  }
}
