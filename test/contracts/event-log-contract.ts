/**
 * The contract every EventLog adapter passes (Kafka, and the embedded log table). Register it
 * from an adapter's test file:
 *
 *   describeEventLogContract('kafka', async () => ({ log, cleanup }));
 *
 * `openLog` must return a log over a fresh, empty topic/namespace with at least 2 partitions
 * (so the split test is meaningful) and `cleanup` must close it and remove its data. Tests wait
 * for conditions with a generous timeout, never for fixed times, and assert no timings.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { ConsumeOptions, EventLog, LogBatch, LogRecord, Subscription } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';

export interface OpenedLog {
  readonly log: EventLog;
  cleanup(): Promise<void>;
}

const waitTimeoutMs = 60_000;

export function describeEventLogContract(name: string, openLog: () => Promise<OpenedLog>): void {
  describe(`EventLog contract: ${name}`, () => {
    test('append then consume returns every event unchanged, in order per partition', async () => {
      await withLog(openLog, async (log, opened) => {
        const early = makeEvents(60, { resources: 7 });
        await log.append(early);
        const consumer = await collect(log, opened, { group: group('all') });
        const late = [...makeEvents(1, { resources: 1 }), ...makeEvents(139, { resources: 11 })];
        await log.append(late.slice(0, 1));
        await log.append(late.slice(1));
        const appended = [...early, ...late];
        await waitUntil(() => consumer.records.length >= appended.length, `${appended.length} records consumed`);

        assert.equal(consumer.records.length, appended.length, 'no record is delivered twice');
        const byId = new Map(consumer.records.map((record) => [record.event.id, record]));
        for (const event of appended) {
          const record = byId.get(event.id);
          assert.ok(record, `event ${event.id} was consumed`);
          assert.deepEqual(record.event, event);
          assert.equal(record.timestamp.getTime(), Date.parse(event.received));
          assert.ok(Number.isInteger(record.partition) && record.partition >= 0 && record.partition < log.partitions);
        }
        assertOrderedPerPartition(consumer.records);
        assertSameOrderPerResource(appended, consumer.records);
        for (const batch of consumer.batches) assertNextPositions(batch);
      });
    });

    test('events with the same resource id land in one partition, in append order', async () => {
      await withLog(openLog, async (log, opened) => {
        const events: VigilEvent[] = [];
        for (let round = 0; round < 40; round++) {
          events.push(makeEvent({ resourceId: 'airflow.dag.sales_refresh', payload: { round } }));
          events.push(...makeEvents(3, { resources: 5, prefix: `other-${round}` }));
        }
        await log.append(events.slice(0, 50));
        await log.append(events.slice(50));
        const consumer = await collect(log, opened, { group: group('key') });
        await waitUntil(() => consumer.records.length >= events.length, `${events.length} records consumed`);

        const sales = consumer.records.filter((record) => record.event.resource.id === 'airflow.dag.sales_refresh');
        assert.equal(sales.length, 40);
        assert.equal(new Set(sales.map((record) => record.partition)).size, 1, 'one partition for one resource id');
        assert.deepEqual(
          sales.map((record) => record.event.payload['round']),
          Array.from({ length: 40 }, (_, round) => round),
        );
      });
    });

    test('each consumer group sees every event', async () => {
      await withLog(openLog, async (log, opened) => {
        const events = makeEvents(80, { resources: 9 });
        await log.append(events);
        const first = await collect(log, opened, { group: group('first') });
        const second = await collect(log, opened, { group: group('second') });
        await waitUntil(() => first.records.length >= events.length && second.records.length >= events.length, 'both groups caught up');
        assert.deepEqual(sortedIds(first.records), sortedIds(events));
        assert.deepEqual(sortedIds(second.records), sortedIds(events));
      });
    });

    test('a group resumes from its committed positions after close and reopen', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('resume');
        const before = makeEvents(70, { resources: 8 });
        await log.append(before);
        const firstRun = await collect(log, opened, { group: name, maxBatchSize: 16 });
        await waitUntil(() => firstRun.records.length >= before.length, 'first run caught up');
        await firstRun.subscription.close();

        const after = makeEvents(45, { resources: 8, prefix: 'after' });
        await log.append(after);
        const secondRun = await collect(log, opened, { group: name, maxBatchSize: 16 });
        await waitUntil(() => secondRun.records.length >= after.length, 'second run caught up');
        // Per partition, a redelivered record would come before the new ones: all of them are in now.
        assert.deepEqual(sortedIds(secondRun.records), sortedIds(after), 'only the new events, none handled before');
      });
    });

    test('a handle that rejects stops the subscription; the uncommitted batch is redelivered on reopen', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('reject');
        const events = makeEvents(60, { resources: 6 });
        await log.append(events);

        const handled: LogRecord[] = [];
        const failure = new Error('handler failed on purpose');
        const errors: Error[] = [];
        let calls = 0;
        const failing = await log.consume({
          group: name,
          maxBatchSize: 10,
          handle(batch) {
            calls += 1;
            if (calls === 2) return Promise.reject(failure);
            handled.push(...batch.records);
            return Promise.resolve();
          },
          onError: (error) => errors.push(error),
        });
        opened.subscriptions.push(failing);
        await waitUntil(() => errors.length > 0, 'onError called');
        assert.equal(calls, 2, 'no batch is handed out after a rejection');
        assert.equal(errors.length, 1);
        assert.ok(errors[0] === failure || errors[0]?.cause === failure, 'onError receives the handler error');
        assert.equal(handled.length > 0 && handled.length <= 10, true);
        await failing.close();

        const reopened = await collect(log, opened, { group: name });
        const remaining = events.length - handled.length;
        await waitUntil(() => reopened.records.length >= remaining, 'the rest redelivered');
        const handledIds = new Set(handled.map((record) => record.event.id));
        assert.ok(reopened.records.every((record) => !handledIds.has(record.event.id)), 'the committed batch is not redelivered');
        assert.deepEqual(sortedIds([...handled, ...reopened.records]), sortedIds(events));
      });
    });

    test('positions() sets where assigned partitions start; others start at the beginning', async () => {
      await withLog(openLog, async (log, opened) => {
        const events = makeEvents(120, { resources: 13 });
        await log.append(events);
        const survey = await collect(log, opened, { group: group('survey') });
        await waitUntil(() => survey.records.length >= events.length, 'survey caught up');

        // Start the partitions that have records halfway through; leave one of them to the default.
        const byPartition = groupByPartition(survey.records);
        const withRecords = [...byPartition.keys()].sort((a, b) => a - b);
        assert.ok(withRecords.length >= 2, 'the events spread over at least two partitions');
        const defaulted = withRecords[0]!;
        const starts = new Map<number, bigint>();
        for (const partition of withRecords.slice(1)) {
          const records = byPartition.get(partition)!;
          starts.set(partition, records[Math.floor(records.length / 2)]!.offset);
        }

        const asked: number[][] = [];
        const assignments: number[][] = [];
        const positioned = await collect(log, opened, {
          group: group('positioned'),
          positions(partitions) {
            asked.push([...partitions]);
            return Promise.resolve(new Map([...starts].filter(([partition]) => partitions.includes(partition))));
          },
          onAssignment: (partitions) => assignments.push([...partitions]),
        });
        const expected = survey.records.filter((record) => record.offset >= (starts.get(record.partition) ?? -1n));
        await waitUntil(() => positioned.records.length >= expected.length, 'positioned consumer caught up');

        assert.deepEqual(sortedIds(positioned.records), sortedIds(expected));
        assert.ok(positioned.records.some((record) => record.partition === defaulted));
        const all = Array.from({ length: log.partitions }, (_, partition) => partition);
        assert.deepEqual([...asked.at(-1)!].sort((a, b) => a - b), all, 'positions() is asked for every assigned partition');
        assert.deepEqual([...assignments.at(-1)!].sort((a, b) => a - b), all, 'onAssignment reports the owned partitions');
      });
    });

    test('two members of one group split the partitions and together see each event once', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('split');
        const owned = [new Array<number>(), new Array<number>()];
        const members = [
          await collect(log, opened, { group: name, onAssignment: (partitions) => (owned[0] = [...partitions]) }),
          await collect(log, opened, { group: name, onAssignment: (partitions) => (owned[1] = [...partitions]) }),
        ];
        const all = Array.from({ length: log.partitions }, (_, partition) => partition);
        await waitUntil(
          () => owned[0]!.length > 0 && owned[1]!.length > 0 && sameMembers([...owned[0]!, ...owned[1]!], all),
          'the partitions are split between the two members',
        );

        const events = makeEvents(200, { resources: 40 });
        await log.append(events.slice(0, 100));
        await log.append(events.slice(100));
        await waitUntil(() => members[0]!.records.length + members[1]!.records.length >= events.length, 'all events consumed');
        for (const member of members) await member.subscription.close();

        const seen = [...members[0]!.records, ...members[1]!.records];
        assert.deepEqual(sortedIds(seen), sortedIds(events), 'each event exactly once');
        for (const [index, member] of members.entries()) {
          assert.ok(member.records.every((record) => owned[index]!.includes(record.partition)), 'a member only gets its partitions');
        }
      });
    });

    test('close() waits for the batch in progress and commits it', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('close');
        const events = makeEvents(30, { resources: 3 });
        await log.append(events);
        const order: string[] = [];
        const inProgress: LogRecord[] = [];
        const gate = Promise.withResolvers<void>();
        const subscription = await log.consume({
          group: name,
          maxBatchSize: 10,
          async handle(batch) {
            inProgress.push(...batch.records);
            await gate.promise;
            order.push('handled');
          },
          onError: (error) => opened.consumerErrors.push(error),
        });
        opened.subscriptions.push(subscription);
        await waitUntil(() => inProgress.length > 0, 'a batch is being handled');
        const closing = subscription.close().then(() => order.push('closed'));
        gate.resolve();
        await closing;
        assert.deepEqual(order, ['handled', 'closed'], 'close() resolves after the batch in progress, and no further batch starts');

        const reopened = await collect(log, opened, { group: name });
        await waitUntil(() => reopened.records.length >= events.length - inProgress.length, 'the rest consumed');
        assert.deepEqual(sortedIds([...inProgress, ...reopened.records]), sortedIds(events), 'the batch handled during close() was committed');
      });
    });

    test('members joining and leaving while events flow lose no event', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('churn');
        const events = makeEvents(400, { resources: 50 });
        const slowly = () => new Promise<void>((resolve) => setImmediate(resolve));
        const seen = new Set<string>();
        const member = async () => {
          const subscription = await log.consume({
            group: name,
            maxBatchSize: 20,
            async handle(batch) {
              await slowly();
              for (const record of batch.records) seen.add(record.event.id);
            },
            onError: (error) => opened.consumerErrors.push(error),
          });
          opened.subscriptions.push(subscription);
          return subscription;
        };
        const first = await member();
        await log.append(events.slice(0, 200));
        await waitUntil(() => seen.size >= 40, 'the first member is consuming');
        const second = await member();
        await log.append(events.slice(200));
        await waitUntil(() => seen.size >= 250, 'the members are consuming');
        await first.close();
        await waitUntil(() => seen.size >= events.length, 'every event handled at least once', waitTimeoutMs);
        await second.close();
        assert.deepEqual([...seen].sort(), sortedIds(events));
      });
    });

    test('with gatherMs, appends a few ms apart are all handed out once, in order, in fewer batches than appends', async () => {
      await withLog(openLog, async (log, opened) => {
        let assigned = false;
        const consumer = await collect(log, opened, { group: group('gather'), gatherMs: 300, onAssignment: () => (assigned = true) });
        await waitUntil(() => assigned, 'the consumer owns its partitions');

        const appends = 6;
        const appended: VigilEvent[] = [];
        for (let round = 0; round < appends; round++) {
          const events = makeEvents(5, { resources: 3, prefix: `gather-${round}` });
          await log.append(events);
          appended.push(...events);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await waitUntil(() => consumer.records.length >= appended.length, `${appended.length} records consumed`);

        assert.equal(consumer.records.length, appended.length, 'no record is delivered twice');
        assert.deepEqual(sortedIds(consumer.records), sortedIds(appended));
        assertOrderedPerPartition(consumer.records);
        for (const batch of consumer.batches) assertNextPositions(batch);
        assert.ok(consumer.batches.length < appends, `${consumer.batches.length} batches for ${appends} appends: gathered`);
      });
    });

    test('close() during a gathering pause returns promptly and commits what was handled', async () => {
      await withLog(openLog, async (log, opened) => {
        const name = group('gather-close');
        const handled: LogRecord[] = [];
        let assigned = false;
        const subscription = await log.consume({
          group: name,
          gatherMs: 30_000,
          handle(batch) {
            handled.push(...batch.records);
            return Promise.resolve();
          },
          onAssignment: () => (assigned = true),
          onError: (error) => opened.consumerErrors.push(error),
        });
        opened.subscriptions.push(subscription);
        await waitUntil(() => assigned, 'the consumer owns its partitions');

        const first = makeEvents(10, { resources: 4, prefix: 'first' });
        await log.append(first);
        // The consumer is now gathering: holding a fetch open, or pausing after a first small batch.
        const appendedAt = Date.now();
        await waitUntil(() => handled.length > 0 || Date.now() - appendedAt >= 500, 'the consumer gathers');
        const second = makeEvents(10, { resources: 4, prefix: 'second' });
        await log.append(second);

        const startedAt = Date.now();
        await subscription.close();
        const elapsed = Date.now() - startedAt;
        assert.ok(elapsed < 5_000, `close() took ${elapsed} ms during a gathering pause of 30000 ms`);

        // What was handled before close() is committed; the group resumes after it, without redelivery.
        const reopened = await collect(log, opened, { group: name });
        const all = [...first, ...second];
        await waitUntil(() => handled.length + reopened.records.length >= all.length, 'the rest consumed after reopening');
        const handledIds = new Set(handled.map((record) => record.event.id));
        assert.ok(
          reopened.records.every((record) => !handledIds.has(record.event.id)),
          'records handled before close() are not delivered again',
        );
        assert.deepEqual(sortedIds([...handled, ...reopened.records]), sortedIds(all), 'each event exactly once');
      });
    });

    test('readSince returns exactly the events accepted at or after a time, partition by partition', async () => {
      await withLog(openLog, async (log) => {
        const base = Date.now() - 120_000;
        const older = makeEvents(50, { resources: 6, receivedAt: (index) => base + index });
        const newer = makeEvents(70, { resources: 6, prefix: 'newer', receivedAt: (index) => base + 60_000 + index });
        await log.append(older);
        await log.append(newer);

        const since = await readAll(log.readSince(new Date(base + 60_000)));
        assert.deepEqual(sortedIds(since), sortedIds(newer));
        assertPartitionByPartition(since);
        for (const record of since) assert.deepEqual(record.event, newer.find((event) => event.id === record.event.id));

        const window = await readAll(log.readSince(new Date(base), new Date(base + 60_000)));
        assert.deepEqual(sortedIds(window), sortedIds(older));
        assert.deepEqual(await readAll(log.readSince(new Date(Date.now() + 3_600_000))), []);
      });
    });

    test('check() resolves while the log is reachable', async () => {
      await withLog(openLog, async (log) => {
        await log.check();
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// helpers

/** Subscriptions a test opened (closed after it) and errors their consumers reported. */
interface Opened {
  readonly subscriptions: Subscription[];
  readonly consumerErrors: Error[];
}

async function withLog(openLog: () => Promise<OpenedLog>, body: (log: EventLog, opened: Opened) => Promise<void>): Promise<void> {
  const { log, ...owner } = await openLog();
  const opened: Opened = { subscriptions: [], consumerErrors: [] };
  try {
    await body(log, opened);
    assert.deepEqual(opened.consumerErrors, [], 'no consumer stopped with an error');
  } finally {
    await Promise.allSettled(opened.subscriptions.map((subscription) => subscription.close()));
    await owner.cleanup();
  }
}

interface Collector {
  readonly records: LogRecord[];
  readonly batches: LogBatch[];
  readonly subscription: Subscription;
}

async function collect(log: EventLog, opened: Opened, options: Omit<ConsumeOptions, 'handle'>): Promise<Collector> {
  const records: LogRecord[] = [];
  const batches: LogBatch[] = [];
  const subscription = await log.consume({
    ...options,
    handle(batch) {
      assert.ok(batch.records.length > 0, 'batches are never empty');
      assert.ok(batch.records.length <= (options.maxBatchSize ?? 500), 'batches respect maxBatchSize');
      batches.push(batch);
      records.push(...batch.records);
      return Promise.resolve();
    },
    onError: options.onError ?? ((error) => opened.consumerErrors.push(error)),
  });
  opened.subscriptions.push(subscription);
  return { records, batches, subscription };
}

/** Polls `condition` every 20 ms until it holds; fails after a generous timeout. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = waitTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function makeEvent(options: { resourceId: string; payload?: Record<string, unknown>; received?: number; prefix?: string }): VigilEvent {
  const received = new Date(options.received ?? Date.now()).toISOString();
  return {
    id: `${options.prefix ?? 'ev'}-${randomUUID()}`,
    occurred: received,
    received,
    event: 'test.contract.happened',
    resource: { id: options.resourceId, env: 'test' },
    related: [{ id: 'test.pool.default', role: 'pool' }],
    payload: options.payload ?? {},
  };
}

/** `count` events spread round-robin over `resources` resource ids; payload.seq is the index. */
export function makeEvents(
  count: number,
  options: { resources: number; prefix?: string; receivedAt?: (index: number) => number },
): VigilEvent[] {
  const prefix = options.prefix ?? 'ev';
  return Array.from({ length: count }, (_, index) =>
    makeEvent({
      resourceId: `test.resource.${prefix}.${index % options.resources}`,
      payload: { seq: index, nested: { list: [1, 'two', { three: 3 }], flag: true, none: null } },
      received: options.receivedAt?.(index),
      prefix,
    }),
  );
}

export function sortedIds(items: ReadonlyArray<LogRecord | VigilEvent>): string[] {
  return items.map((item) => ('offset' in item ? item.event.id : item.id)).sort();
}

function groupByPartition(records: readonly LogRecord[]): Map<number, LogRecord[]> {
  const result = new Map<number, LogRecord[]>();
  for (const record of records) {
    const list = result.get(record.partition) ?? [];
    list.push(record);
    result.set(record.partition, list);
  }
  return result;
}

function assertOrderedPerPartition(records: readonly LogRecord[]): void {
  for (const [partition, list] of groupByPartition(records)) {
    for (let index = 1; index < list.length; index++) {
      assert.ok(list[index]!.offset > list[index - 1]!.offset, `offsets increase in partition ${partition}`);
    }
  }
}

function assertSameOrderPerResource(appended: readonly VigilEvent[], records: readonly LogRecord[]): void {
  const expected = new Map<string, string[]>();
  for (const event of appended) expected.set(event.resource.id, [...(expected.get(event.resource.id) ?? []), event.id]);
  const actual = new Map<string, string[]>();
  for (const { event } of records) actual.set(event.resource.id, [...(actual.get(event.resource.id) ?? []), event.id]);
  assert.deepEqual(actual, expected, 'events of one resource arrive in append order');
}

function assertNextPositions(batch: LogBatch): void {
  const last = new Map<number, bigint>();
  for (const record of batch.records) last.set(record.partition, record.offset);
  assert.deepEqual(
    new Map([...batch.nextPositions].sort(([a], [b]) => a - b)),
    new Map([...last].sort(([a], [b]) => a - b).map(([partition, offset]) => [partition, offset + 1n])),
    'nextPositions is last offset + 1 for every partition in the batch',
  );
}

function assertPartitionByPartition(records: readonly LogRecord[]): void {
  const finished = new Set<number>();
  let current: number | undefined;
  for (const record of records) {
    if (record.partition !== current) {
      assert.ok(!finished.has(record.partition), 'readSince yields one partition after the other');
      if (current !== undefined) finished.add(current);
      current = record.partition;
    }
  }
  assertOrderedPerPartition(records);
}

function sameMembers(values: readonly number[], expected: readonly number[]): boolean {
  return values.length === expected.length && [...values].sort((a, b) => a - b).every((value, index) => value === expected[index]);
}

async function readAll(records: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const result: LogRecord[] = [];
  for await (const record of records) result.push(record);
  return result;
}

function group(purpose: string): string {
  return `contract-${purpose}-${randomUUID().slice(0, 8)}`;
}
