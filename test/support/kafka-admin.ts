import { Admin } from '@platformatic/kafka';
import { deleteTopic } from '../../platform/kafka/kafka-topic.ts';

/** The brokers of scripts/services.sh (or KAFKA_BROKERS). */
export const kafkaBrokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:19092').split(',').map((broker) => broker.trim());

/** Runs `body` with a Kafka admin client, closed afterwards. */
export async function withKafkaAdmin<T>(body: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'vigil-test-admin', bootstrapBrokers: kafkaBrokers });
  try {
    return await body(admin);
  } finally {
    await admin.close();
  }
}

/** Deletes a test's topic; a failure (broker down, topic gone) is ignored. */
export async function removeKafkaTopic(topic: string): Promise<void> {
  await withKafkaAdmin((admin) => deleteTopic(admin, topic)).catch(() => {});
}
