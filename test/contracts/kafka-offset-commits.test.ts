/**
 * Offset commits of the Kafka consumer (platform/kafka/kafka-consumer.ts), against the Kafka
 * broker of scripts/services.sh: a member commits what it handled at most once per
 * `commitIntervalMs`, but at once when it closes or its group rebalances. A long interval makes
 * "at once" observable: taking an assignment commits (and so starts the interval), so nothing
 * handled afterwards is committed unless close() or a rebalance does it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createKafkaEventLog, type KafkaEventLogOptions } from '../../platform/kafka/kafka-event-log.ts';
import type { EventLog, LogRecord, Subscription } from '../../platform/ports/event-log.ts';
import { kafkaBrokers, removeKafkaTopic, withKafkaAdmin } from '../support/kafka-admin.ts';
import { makeEvents, sortedIds, waitUntil } from './event-log-contract.ts';

const brokers = kafkaBrokers;

function options(topic: string, group: KafkaEventLogOptions['group']): KafkaEventLogOptions {
  return { brokers, topic, partitions: 4, clientId: `vigil-test-${randomUUID().slice(0, 8)}`, requestTimeoutMs: 3000, group };
}


/** The sum of the group's committed offsets on the topic (= records committed, offsets start at 0). */
async function committedCount(topic: string, group: string): Promise<bigint> {
  return withKafkaAdmin(async (admin) => {
    const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
    let committed = 0n;
    for (const entry of offsets?.topics ?? []) {
      if (entry.name !== topic) continue;
      for (const partition of entry.partitions) if (partition.committedOffset > 0n) committed += partition.committedOffset;
    }
    return committed;
  });
}

interface Member {
  readonly records: LogRecord[];
  owned: number[];
  readonly subscription: Subscription;
}

async function member(log: EventLog, group: string, errors: Error[]): Promise<Member> {
  const records: LogRecord[] = [];
  const state = { records, owned: [] as number[] };
  const subscription = await log.consume({
    group,
    maxBatchSize: 10,
    handle(batch) {
      records.push(...batch.records);
      return Promise.resolve();
    },
    onAssignment: (partitions) => (state.owned = [...partitions]),
    onError: (error) => errors.push(error),
  });
  return Object.assign(state, { subscription });
}

async function withTopic(group: KafkaEventLogOptions['group'], body: (log: EventLog, topic: string) => Promise<void>): Promise<void> {
  const topic = `vigil-test-${randomUUID().slice(0, 13)}`;
  const log = await createKafkaEventLog(options(topic, group));
  try {
    await body(log, topic);
  } finally {
    await log.close();
    await removeKafkaTopic(topic);
  }
}

describe('Kafka consumer offset commits', () => {
  test('handled positions are committed at most once per commitIntervalMs, and all of them at once on close()', async () => {
    await withTopic({ commitIntervalMs: 60_000 }, async (log, topic) => {
      const group = `commits-${randomUUID().slice(0, 8)}`;
      const errors: Error[] = [];
      const first = await member(log, group, errors);
      try {
        const early = makeEvents(10, { resources: 10, prefix: 'early' });
        await log.append(early);
        await waitUntil(() => first.records.length >= early.length, 'the early events handled');
        const late = makeEvents(30, { resources: 10, prefix: 'late' });
        await log.append(late);
        await waitUntil(() => first.records.length >= early.length + late.length, 'the late events handled');
        // Taking the assignment started the interval (it commits at once): nothing handled since is committed yet.
        for (let check = 0; check < 5; check++) {
          assert.equal(await committedCount(topic, group), 0n, 'no commit within commitIntervalMs');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await first.subscription.close();
      }
      // close() committed everything handled, before it resolved.
      assert.equal(await committedCount(topic, group), 40n, 'close() commits what was handled');
      assert.deepEqual(errors, []);

      // A new member of the group starts after the last handled record: nothing is delivered again.
      const next = await member(log, group, errors);
      try {
        const after = makeEvents(15, { resources: 10, prefix: 'after' });
        await log.append(after);
        await waitUntil(() => next.records.length >= after.length, 'the new events handled');
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(sortedIds(next.records), sortedIds(after), 'only the events appended after close(), none handled before');
      } finally {
        await next.subscription.close();
      }
      assert.deepEqual(errors, []);
    });
  });

  test('without close(), the handled positions are committed once the interval passed', async () => {
    await withTopic({ commitIntervalMs: 300 }, async (log, topic) => {
      const group = `interval-${randomUUID().slice(0, 8)}`;
      const errors: Error[] = [];
      const only = await member(log, group, errors);
      try {
        const events = makeEvents(35, { resources: 10 });
        await log.append(events.slice(0, 20));
        await log.append(events.slice(20));
        await waitUntil(() => only.records.length >= events.length, 'the events handled');
        const deadline = Date.now() + 30_000;
        while ((await committedCount(topic, group)) !== BigInt(events.length)) {
          assert.ok(Date.now() < deadline, 'the handled positions were committed by the interval timer');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(only.records.length, events.length);
        assert.deepEqual(errors, []);
      } finally {
        await only.subscription.close();
      }
    });
  });

  test(
    'a rebalance within the commit interval: nothing is lost, and only the partitions that moved are delivered again',
    async () => {
      // A quick heartbeat makes the first member notice the rebalance soon; the long commit interval
      // means nothing handled since the assignment was committed when the partitions move.
      await withTopic({ commitIntervalMs: 60_000, heartbeatIntervalMs: 200 }, async (log, topic) => {
        const group = `rebalance-${randomUUID().slice(0, 8)}`;
        const errors: Error[] = [];
        const members: Member[] = [];
        try {
          const a = await member(log, group, errors);
          members.push(a);
          await waitUntil(() => a.owned.length === log.partitions, 'the first member owns every partition');
          const early = makeEvents(48, { resources: 20, prefix: 'early' });
          await log.append(early);
          await waitUntil(() => a.records.length >= early.length, 'the early events handled (not committed yet: the interval runs)');
          assert.equal(await committedCount(topic, group), 0n);
          const handledByA = new Set(a.records.map((record) => record.event.id));

          const b = await member(log, group, errors);
          members.push(b);
          await waitUntil(
            () => a.owned.length > 0 && b.owned.length > 0 && a.owned.length + b.owned.length === log.partitions,
            'the partitions are split between the two members',
          );
          const after = makeEvents(40, { resources: 20, prefix: 'after' });
          await log.append(after);
          const all = [...early, ...after];
          await waitUntil(
            () => new Set([...a.records, ...b.records].map((record) => record.event.id)).size >= all.length,
            'every event handled by one of the members',
          );
          await new Promise((resolve) => setTimeout(resolve, 200));

          const redelivered = b.records.filter((record) => handledByA.has(record.event.id));
          // At least once: the new owner of a moved partition starts at its last committed position.
          const moved = new Set(b.owned);
          assert.ok(
            redelivered.every((record) => moved.has(record.partition)),
            'only records of partitions that moved to the new member are delivered again',
          );
          assert.deepEqual(
            [...new Set([...a.records, ...b.records].map((record) => record.event.id))].sort(),
            sortedIds(all),
            'every event handled',
          );
          const handledByAAfter = a.records.filter((record) => !handledByA.has(record.event.id));
          assert.ok(
            handledByAAfter.every((record) => !moved.has(record.partition)),
            'after the rebalance the first member handles only the partitions it kept',
          );
          assert.deepEqual(errors, []);
        } finally {
          await Promise.allSettled(members.map((each) => each.subscription.close()));
        }
      });
    },
  );
});
