import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { startEventPersister } from '../../history/event-persister.ts';
import { consumerHealth } from '../../platform/consumers/consumer-health.ts';
import { consumeGuarded, isDataError } from '../../platform/consumers/guarded-consumer.ts';
import { createDeadLetters } from '../../platform/consumers/dead-letters.ts';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import { createLogger } from '../../platform/logger.ts';
import type { EventLog, Subscription } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startTriggerEvaluator, type TriggerEvaluator } from '../../triggers/evaluator.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * Every consumer of the event log (the history persister, the trigger evaluator) meets records
 * the intake would refuse — written before its rule existed, or by another producer — and
 * records the store refuses although they pass the rule (an index entry too large). Appended
 * straight to the log, bypassing the intake. Each consumer must store every other record of
 * the batch, keep each bad one once in dead_letters, count it, and never stop.
 */

const persisterGroup = 'vigil-persister';
const evaluatorGroup = 'vigil-triggers';

const hostileText = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', 'a\u0000b', '\u0000', 'x\ud83d', '\ude00y');
const unstorableTime = fc.constantFrom('0001-06-15T00:00:00.000Z', '0020-02-29T00:00:00.000Z', '0099-12-31T23:59:59.000Z', '+010000-01-01T13:59:59.000Z', 'not a time');

type Damage =
  | { kind: 'label'; text: string }
  | { kind: 'payload-value'; text: string; depth: number }
  | { kind: 'payload-key'; text: string }
  | { kind: 'related-role'; text: string }
  | { kind: 'occurred'; time: string }
  | { kind: 'huge-resource-id' };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  hostileText.map((text) => ({ kind: 'label' as const, text })),
  fc.tuple(hostileText, fc.integer({ min: 0, max: 4 })).map(([text, depth]) => ({ kind: 'payload-value' as const, text, depth })),
  hostileText.map((text) => ({ kind: 'payload-key' as const, text })),
  hostileText.map((text) => ({ kind: 'related-role' as const, text })),
  unstorableTime.map((time) => ({ kind: 'occurred' as const, time })),
  fc.constant({ kind: 'huge-resource-id' as const }),
);

function nested(depth: number, leaf: unknown): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? { [`k${level}`]: value } : [1, value];
  return value;
}

function goodEvent(id: string): VigilEvent {
  const now = new Date().toISOString();
  return { id, occurred: now, received: now, event: 'hostile.test', resource: { id: `res-${id}`, note: 'tab\tand \u0001 and \ud83d\ude00' }, related: [], payload: { n: 1, text: 'ok' } };
}

function damaged(event: VigilEvent, harm: Damage): VigilEvent {
  switch (harm.kind) {
    case 'label':
      return { ...event, resource: { ...event.resource, env: harm.text } };
    case 'payload-value':
      return { ...event, payload: { ...event.payload, deep: nested(harm.depth, harm.text) } };
    case 'payload-key':
      return { ...event, payload: { ...event.payload, [harm.text]: true } };
    case 'related-role':
      return { ...event, related: [{ id: 'parent', role: harm.text }] };
    case 'occurred':
      return { ...event, occurred: harm.time };
    case 'huge-resource-id':
      // storable by the rule, but no btree index entry can hold it (incompressible, > 2704 bytes)
      return { ...event, resource: { id: randomBytes(6_000).toString('base64') } };
  }
}

describe('every log consumer isolates records it cannot store (property test)', { timeout: 300_000 }, () => {
  let database: TestDatabase;
  let log: EventLog;
  let registry: Registry;
  let persister: { close(): Promise<void> };
  let evaluator: TriggerEvaluator;

  before(async () => {
    database = await createTestDatabase();
    const saved = await createAutomationRepository(database.db).upsert({
      name: 'each-hostile',
      trigger: { type: 'event', expect: ['hostile.test'], for_each: ['resource.id'] },
      actions: [{ kind: 'emit-event', event: 'hostile.seen', resource: { id: 'seen' } }],
    });
    if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
    log = await createKafkaEventLog({ brokers: kafkaBrokers, topic: `vigil-test-hostile-${randomBytes(4).toString('hex')}`, partitions: 3, clientId: 'vigil-test' });
    registry = new Registry();
    const logger = createLogger('silent');
    persister = await startEventPersister({ db: database.db, log, logger, retentionDays: 7, metrics: registry });
    evaluator = await startTriggerEvaluator({ db: database.db, log, logger, metrics: registry, allowedLatenessMs: 24 * 3_600_000 });
  });
  after(async () => {
    await evaluator.close();
    await persister.close();
    await log.close();
    await database.drop();
  });

  async function idsIn(sql: string, ids: readonly string[]): Promise<string[]> {
    const rows = await database.db.query<{ id: string }>(sql, [[...ids]]);
    return rows.map((row) => row.id).sort();
  }

  let run = 0;
  test('random batches of good and hostile records: the good ones are stored, each bad one is dead-lettered once, no consumer stops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(damage, { nil: undefined, freq: 2 }), { minLength: 1, maxLength: 25 }), async (plan) => {
        run++;
        const events = plan.map((harm, index) => {
          const event = goodEvent(`h${run}-${index}`);
          return harm ? damaged(event, harm) : event;
        });
        const good = plan.flatMap((harm, index) => (harm ? [] : [`h${run}-${index}`])).sort();
        const bad = plan.flatMap((harm, index) => (harm ? [`h${run}-${index}`] : [])).sort();
        const all = events.map((event) => event.id);
        await log.append(events);

        const historyIds = () => idsIn('SELECT id FROM event_history WHERE id = ANY($1::text[])', all);
        const deadIds = (group: string) => idsIn(`SELECT event_id AS id FROM dead_letters WHERE consumer = '${group}' AND event_id = ANY($1::text[])`, all);
        const firedIds = () => idsIn("SELECT event_ids->>0 AS id FROM firings WHERE automation_name = 'each-hostile' AND event_ids->>0 = ANY($1::text[])", all);
        await waitFor('the persister to store or dead-letter every record', async () => (await historyIds()).length + (await deadIds(persisterGroup)).length >= all.length, 60_000);
        await waitFor('the evaluator to fire for or dead-letter every record', async () => (await firedIds()).length + (await deadIds(evaluatorGroup)).length >= all.length, 60_000);

        assert.deepEqual(await historyIds(), good);
        assert.deepEqual(await deadIds(persisterGroup), bad);
        assert.deepEqual(await firedIds(), good);
        assert.deepEqual(await deadIds(evaluatorGroup), bad);
      }),
      { numRuns: 5, seed: 1206 },
    );

    const [counts] = await database.db.query<{ n: string }>('SELECT count(*)::text AS n FROM dead_letters');
    const metrics = await registry.metrics();
    const counted = [...metrics.matchAll(/^vigil_dead_letters_total\{consumer="[^"]+"\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    assert.equal(counted, Number(counts!.n), 'every dead letter is counted once');
    assert.match(metrics, /vigil_consumer_lag\{consumer="vigil-persister"\} 0/);
    const statuses = await consumerHealth(registry).report();
    assert.deepEqual(statuses.map((status) => [status.consumer, status.state]).sort(), [
      [persisterGroup, 'ok'],
      [evaluatorGroup, 'ok'],
    ]);
  });

  test('a dead letter keeps the record exactly: parsing `record` gives the event back', async () => {
    const letter = (await createDeadLetters(database.db).list({ limit: 1_000 })).find((entry) => entry.consumer === persisterGroup);
    assert.ok(letter, 'a dead letter exists');
    const event = JSON.parse(letter.record) as VigilEvent;
    assert.equal(event.id, letter.eventId);
    assert.ok(letter.reason.length > 0);
  });
});

describe('outages are not data: a consumer that cannot reach its store is retried and shows as stuck', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let log: EventLog;
  let subscription: Subscription | undefined;

  before(async () => {
    database = await createTestDatabase();
    log = await createKafkaEventLog({ brokers: kafkaBrokers, topic: `vigil-test-stuck-${randomBytes(4).toString('hex')}`, partitions: 1, clientId: 'vigil-test' });
  });
  after(async () => {
    await subscription?.close().catch(() => undefined);
    await log.close();
    await database.drop();
  });

  test('only store refusals of the data are data errors', () => {
    for (const code of ['22P02', '22P05', '22021', '22008', '23502', '54000']) assert.equal(isDataError(Object.assign(new Error('x'), { code })), true, code);
    for (const code of ['08006', '57P01', '40P01', '40001', '55P03', '57014', '53300', 'ECONNRESET']) assert.equal(isDataError(Object.assign(new Error('x'), { code })), false, code);
    assert.equal(isDataError(new Error('Connection terminated unexpectedly')), false);
    assert.equal(isDataError(new RangeError('Invalid time value')), true);
  });

  test('failing without progress: stuck in the health report and the metrics, nothing dead-lettered', async () => {
    const registry = new Registry();
    let attempts = 0;
    const open = () =>
      consumeGuarded(log, {
        db: database.db,
        logger: createLogger('silent'),
        metrics: registry,
        group: 'always-down',
        handle: () => {
          attempts++;
          return Promise.reject(Object.assign(new Error('connection refused (simulated store outage)'), { code: 'ECONNREFUSED' }));
        },
        onError: () => {
          subscription = undefined;
        },
      });
    subscription = await open();
    await log.append([goodEvent('outage-1')]);
    await waitFor('the handler to fail', () => attempts > 0);
    const [status] = await consumerHealth(registry).report();
    assert.equal(status!.state, 'stuck');
    assert.match(status!.last_error ?? '', /simulated store outage/);
    assert.match(await registry.metrics(), /vigil_consumer_stuck\{consumer="always-down"\} 1/);
    const [letters] = await database.db.query<{ n: string }>('SELECT count(*)::text AS n FROM dead_letters');
    assert.equal(letters!.n, '0');
  });
});
