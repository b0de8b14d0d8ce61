/**
 * The Kafka appender's linger (platform/kafka/kafka-appender.ts), against the broker of
 * scripts/services.sh: produce requests go out at most once per `lingerMs`. An append made when
 * the last request is older than that is sent at once (in the same turn of the event loop); the
 * appends made within it wait and share one request. The producer is a real one; the test only
 * counts its `send` calls.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { KafkaAppender } from '../../platform/kafka/kafka-appender.ts';
import { silentLogger } from '../../platform/kafka/kafka-options.ts';
import { ensureTopic } from '../../platform/kafka/kafka-topic.ts';
import { kafkaBrokers, removeKafkaTopic, withKafkaAdmin } from '../support/kafka-admin.ts';
import { makeEvents } from './event-log-contract.ts';

const lingerMs = 400;

describe('Kafka appender linger', () => {
  const topic = `vigil.test.linger.${randomUUID().slice(0, 8)}`;
  const producer = new Producer({ clientId: 'vigil-test-linger', bootstrapBrokers: kafkaBrokers, idempotent: true, acks: ProduceAcks.ALL });
  const sends: number[] = [];
  const send = producer.send.bind(producer);
  producer.send = ((...args: Parameters<typeof send>) => {
    sends.push(args[0].messages.length);
    return send(...args);
  });
  let appender: KafkaAppender;

  before(async () => {
    await withKafkaAdmin((admin) => ensureTopic(admin, { topic, partitions: 2, replicationFactor: 1 }, silentLogger, 10_000));
    appender = new KafkaAppender(producer, topic, 2, 10_000, lingerMs);
    // The producer's first request also connects and fetches metadata: done before the tests count.
    await appender.append(makeEvents(1, { resources: 1, prefix: `linger-warm-${randomUUID().slice(0, 8)}` }));
    await new Promise((resolve) => setTimeout(resolve, lingerMs + 50));
    sends.length = 0;
  });

  after(async () => {
    await producer.close();
    await removeKafkaTopic(topic);
  });

  test('an idle append is sent at once; appends within the linger share the next request, sent no sooner', async () => {
    const [first, ...rest] = makeEvents(5, { resources: 3, prefix: `linger-${randomUUID().slice(0, 8)}` });
    const firstSentAt = performance.now();
    const firstAppend = appender.append([first!]);
    assert.deepEqual(sends, [1], 'the first append goes out in the same turn of the event loop');
    const waiting = rest.map((event) => appender.append([event]));
    assert.deepEqual(sends, [1], 'appends right after it wait');
    await Promise.all([firstAppend, ...waiting]);
    assert.ok(performance.now() - firstSentAt >= lingerMs - 1, 'the second request went out no sooner than the linger allows');
    assert.deepEqual(sends, [1, 4], 'the four waiting appends shared one request');
  });

  test('after a quiet spell an append is sent at once; drain waits for the lingering one behind it', async () => {
    const [a, b] = makeEvents(2, { resources: 1, prefix: `linger-${randomUUID().slice(0, 8)}` });
    await new Promise((resolve) => setTimeout(resolve, lingerMs + 50));
    const before = sends.length;
    const sentAt = performance.now();
    const first = appender.append([a!]);
    assert.equal(sends.length, before + 1, 'sent in the same turn after a quiet spell');
    const second = appender.append([b!]);
    assert.equal(sends.length, before + 1, 'the next append waits');
    await appender.drain();
    assert.equal(sends.length, before + 2, 'drain returned only after the waiting append was sent');
    assert.ok(performance.now() - sentAt >= lingerMs - 1, 'and that was no sooner than the linger allows');
    await Promise.all([first, second]);
  });
});
