import { randomBytes } from 'node:crypto';
import { openBullmqActionQueue } from '../../platform/bullmq/bullmq-action-queue.ts';
import { describeActionQueueContract } from './action-queue-contract.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:63790';

describeActionQueueContract('BullMQ', () =>
  openBullmqActionQueue({
    redisUrl,
    prefix: `vigil-test-${randomBytes(4).toString('hex')}`,
    queueName: 'contract',
    stalledIntervalMs: 1_000,
    lockDurationMs: 5_000,
  }),
);
