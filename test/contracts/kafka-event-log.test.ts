/**
 * The EventLog contract against a real Kafka broker (KAFKA_BROKERS, default 127.0.0.1:19092,
 * started by `bash scripts/services.sh up`), plus Kafka-specific behaviour: topic creation and
 * an outage of the broker (stopped and started again with scripts/services.sh).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Producer } from '@platformatic/kafka';
import { KafkaAppender } from '../../platform/kafka/kafka-appender.ts';
import { createKafkaEventLog, type KafkaEventLogOptions, type KafkaLogger } from '../../platform/kafka/kafka-event-log.ts';
import { partitionOf } from '../../platform/kafka/kafka-records.ts';
import { type EventLog, type LogRecord, LogUnavailableError, type Subscription } from '../../platform/ports/event-log.ts';
import { kafkaBrokers, removeKafkaTopic, withKafkaAdmin } from '../support/kafka-admin.ts';
import { describeEventLogContract, makeEvents, sortedIds, waitUntil } from './event-log-contract.ts';

const brokers = kafkaBrokers;
const repositoryRoot = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

function uniqueTopic(): string {
  return `vigil-test-${randomUUID().slice(0, 13)}`;
}

function options(topic: string, overrides: Partial<KafkaEventLogOptions> = {}): KafkaEventLogOptions {
  return {
    brokers,
    topic,
    partitions: 4,
    clientId: `vigil-test-${randomUUID().slice(0, 8)}`,
    requestTimeoutMs: 3000,
    ...overrides,
  };
}


const removeTopic = removeKafkaTopic;

describeEventLogContract('kafka', async () => {
  const topic = uniqueTopic();
  const log = await createKafkaEventLog(options(topic));
  return {
    log,
    async cleanup() {
      await log.close();
      await removeTopic(topic);
    },
  };
});

describe('Kafka event log', () => {
  test('creates a missing topic with the configured partitions, and tolerates concurrent creation', async () => {
    const topic = uniqueTopic();
    const logs: EventLog[] = [];
    try {
      logs.push(...(await Promise.all([createKafkaEventLog(options(topic, { partitions: 5 })), createKafkaEventLog(options(topic, { partitions: 5 }))])));
      assert.deepEqual(
        logs.map((log) => log.partitions),
        [5, 5],
      );
      const metadata = await withKafkaAdmin((admin) => admin.metadata({ topics: [topic], forceUpdate: true }));
      const created = metadata.topics.get(topic);
      assert.equal(created?.partitionsCount, 5);
      assert.deepEqual(created?.partitions.map((partition) => partition.replicas.length), [1, 1, 1, 1, 1]);

      // An existing topic keeps its partition count; the log reports the real one.
      logs.push(await createKafkaEventLog(options(topic, { partitions: 3 })));
      assert.equal(logs[2]?.partitions, 5);
    } finally {
      await Promise.allSettled(logs.map((log) => log.close()));
      await removeTopic(topic);
    }
  });

  test('a broker that accepts connections but never answers: connecting and appending reject with LogUnavailableError', async () => {
    await withSilentBroker(async (broker) => {
      let startedAt = Date.now();
      await assert.rejects(createKafkaEventLog(options(uniqueTopic(), { brokers: [broker], requestTimeoutMs: 500 })), LogUnavailableError);
      assert.ok(Date.now() - startedAt < 20_000, 'connecting gave up in bounded time');

      // The appender on its own, as if the broker hung after the log was created.
      const producer = new Producer({ clientId: 'vigil-test-hung', bootstrapBrokers: [broker], idempotent: true, retries: 2 });
      try {
        const appender = new KafkaAppender(producer, 'hung', 4, 1000);
        startedAt = Date.now();
        await assert.rejects(appender.append(makeEvents(10, { resources: 2 })), LogUnavailableError);
        const elapsed = Date.now() - startedAt;
        assert.ok(elapsed < 5000, `append rejected after ${elapsed} ms (deadline 1000 ms)`);
        await assert.rejects(appender.append(makeEvents(10, { resources: 2 })), LogUnavailableError);
      } finally {
        await producer.close(true);
      }
    });
  });

  test('a position before the log start (records deleted by retention) continues at the log start, and says so', async () => {
    const topic = uniqueTopic();
    const logged: string[] = [];
    const log = await createKafkaEventLog(options(topic, { logger: capturingLogger(logged) }));
    const subscriptions: Subscription[] = [];
    try {
      const events = makeEvents(40, { resources: 1 });
      await log.append(events);
      const partition = partitionOf(Buffer.from(events[0]!.resource.id), log.partitions);
      await withKafkaAdmin((admin) => admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition, offset: 10n }] }] }));

      const consumed: LogRecord[] = [];
      subscriptions.push(
        await log.consume({
          group: `retention-${randomUUID().slice(0, 8)}`,
          positions: (partitions) => Promise.resolve(new Map(partitions.map((owned) => [owned, 0n]))),
          handle(batch) {
            consumed.push(...batch.records);
            return Promise.resolve();
          },
        }),
      );
      await waitUntil(() => consumed.length >= 30, 'the records after the deleted ones consumed');
      assert.deepEqual(
        consumed.map((record) => record.event.id),
        events.slice(10).map((event) => event.id),
      );
      assert.equal(consumed[0]?.offset, 10n);
      assert.ok(logged.some((line) => line.startsWith('error: Kafka records were deleted (retention)')));
    } finally {
      await Promise.allSettled(subscriptions.map((subscription) => subscription.close()));
      await log.close();
      await removeTopic(topic);
    }
  });

  test('append fails fast with LogUnavailableError while the broker is down; a retry after it is back succeeds, each event consumed once', async (t) => {
    const topic = uniqueTopic();
    const logged: string[] = [];
    const logger = capturingLogger(logged);
    const log = await createKafkaEventLog(options(topic, { requestTimeoutMs: 2000, logger }));
    const consumed: LogRecord[] = [];
    const consumerErrors: Error[] = [];
    const group = `outage-${randomUUID().slice(0, 8)}`;
    const subscription = await log.consume({
      group,
      handle(batch) {
        consumed.push(...batch.records);
        return Promise.resolve();
      },
      onError: (error) => consumerErrors.push(error),
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    let kafkaStopped = false;
    try {
      const before = makeEvents(100, { resources: 10, prefix: 'before' });
      await log.append(before);
      await waitUntil(() => consumed.length >= before.length, 'events before the outage consumed');
      await waitForCommittedOffsets(topic, group, before.length);

      kafkaStopped = true;
      await services('stop', 'kafka');

      const during = makeEvents(50, { resources: 10, prefix: 'during' });
      const startedAt = Date.now();
      await assert.rejects(log.append(during), LogUnavailableError);
      const elapsed = Date.now() - startedAt;
      t.diagnostic(`append rejected ${elapsed} ms after it was called, with the broker stopped`);
      assert.ok(elapsed < 10_000, `append rejected after ${elapsed} ms (bounded by requestTimeoutMs = 2000)`);
      await assert.rejects(log.check(), LogUnavailableError);

      await services('start', 'kafka');
      kafkaStopped = false;

      // The client retries the same events, as it would after a 503.
      const attempts = await retryUntilAccepted(() => log.append(during));
      t.diagnostic(`the retried append was accepted at attempt ${attempts} after the broker was back`);
      await log.check();
      await waitUntil(() => consumed.length >= before.length + during.length, 'events appended after the outage consumed');
      assert.deepEqual(sortedIds(consumed), sortedIds([...before, ...during]), 'each event consumed exactly once');
      assert.deepEqual(consumerErrors, []);
      assert.deepEqual(unhandled, [], 'no unhandled rejections');
      t.diagnostic(`adapter log during the outage: ${logged.join(' | ') || '(nothing)'}`);
    } finally {
      if (kafkaStopped) await services('start', 'kafka');
      process.off('unhandledRejection', onUnhandled);
      await subscription.close();
      await log.close();
      await removeTopic(topic);
    }
  });
});

/** A TCP server that accepts connections and never answers, like a hung broker. */
async function withSilentBroker(body: (broker: string) => Promise<void>): Promise<void> {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
  try {
    await body(`127.0.0.1:${(silent.address() as AddressInfo).port}`);
  } finally {
    silent.close();
    for (const socket of sockets) socket.destroy();
  }
}

function capturingLogger(lines: string[]): KafkaLogger {
  const capture = (level: string) => (_details: object, message: string) => {
    lines.push(`${level}: ${message}`);
  };
  return { debug: () => {}, info: capture('info'), warn: capture('warn'), error: capture('error') };
}

async function services(command: 'stop' | 'start', service: 'kafka'): Promise<void> {
  await run('bash', ['scripts/services.sh', command, service], { cwd: repositoryRoot, timeout: 180_000 });
}

/** Calls `append` until it resolves; returns the number of attempts. */
async function retryUntilAccepted(append: () => Promise<void>): Promise<number> {
  const deadline = Date.now() + 90_000;
  for (let attempt = 1; ; attempt++) {
    try {
      await append();
      return attempt;
    } catch (error) {
      assert.ok(error instanceof LogUnavailableError, `only LogUnavailableError while the broker recovers, got ${String(error)}`);
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Waits until the group's committed offsets add up to `count` records. */
async function waitForCommittedOffsets(topic: string, group: string, count: number): Promise<void> {
  await withKafkaAdmin(async (admin) => {
    let committed = 0n;
    const deadline = Date.now() + 30_000;
    while (committed < BigInt(count)) {
      assert.ok(Date.now() < deadline, `group ${group} committed ${committed} of ${count} records`);
      const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
      committed = 0n;
      for (const entry of offsets?.topics ?? []) {
        if (entry.name !== topic) continue;
        for (const partition of entry.partitions) if (partition.committedOffset > 0n) committed += partition.committedOffset;
      }
      if (committed < BigInt(count)) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}
