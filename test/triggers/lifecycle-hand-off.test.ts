import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { startOutboxRelay } from '../../actions/outbox-relay.ts';
import { createTableEventLog } from '../../platform/embedded/table-event-log.ts';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import type { Database } from '../../platform/ports/database.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { startAutomationCatalog } from '../../triggers/automation-catalog.ts';
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { fireDueStates } from '../../triggers/deadline-timer.ts';
import { applyBatch, startTriggerEvaluator, type TriggerEvaluator } from '../../triggers/evaluator.ts';
import { relayLifecycleEvents, startLifecycleEventRelay, type LifecycleEventRelay, type LifecycleEventRelayOptions } from '../../triggers/lifecycle-event-relay.ts';
import { triggerMetrics } from '../../triggers/metrics.ts';
import type { OutboxHandOff, OutboxWrites } from '../../triggers/trigger-state-store.ts';
import { fastRetry, silentLogger as silentPino, startActionsHarness, type ActionsHarness } from '../actions/harness.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../stand-ins/webhook-receiver.ts';
import { kafkaBrokers, removeKafkaTopic } from '../support/kafka-admin.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';
import { notifyChannels } from '../../platform/ports/notify-channels.ts';

/*
 * The in-process hand-off of committed lifecycle events to the event log (`publish` of the
 * lifecycle event relay), the sweep that takes only what a publication missed (`sweepAfterMs`),
 * and the evaluator's and deadline timer's `onCommitted`, over real PostgreSQL and Kafka (and the
 * table event log), wired at the end as `vigil start` wires them when the roles share a process.
 *
 * Relays that must not sweep a row run with `sweepAfterMs` = 60 s, far above any wait of this
 * file: whatever is appended within the waits below came through `publish` (or the relay call
 * the test makes itself).
 */

const longSweepAfterMs = 60_000;
/** Waits shorter than `longSweepAfterMs`, so that a sweep cannot be what satisfied them. */
const handOffWaitMs = 20_000;
const allowedLatenessMs = 24 * 3_600_000;

function lifecycleEvent(name: string): VigilEvent {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    occurred: now,
    received: now,
    event: 'vigil.automation.triggered',
    resource: { id: `vigil.automation.${name}`, name },
    related: [],
    payload: { automation: name, firing_id: randomUUID(), state: 'triggered' },
  };
}

/** Commits the events to `event_outbox` as the evaluator does (with its NOTIFY), created `ageMs` ago. */
async function commitEvents(db: Database, events: readonly VigilEvent[], ageMs = 0): Promise<void> {
  await db.transaction(async (tx) => {
    for (const event of events) {
      await tx.query(`INSERT INTO event_outbox (id, event, created_at) VALUES ($1, $2, clock_timestamp() - $3 * interval '1 millisecond')`, [
        event.id,
        JSON.stringify(event),
        ageMs,
      ]);
    }
    await tx.query(`SELECT pg_notify($1, '')`, [notifyChannels.eventOutbox]);
  });
}

async function appendedAt(db: Database, id: string): Promise<Date | null> {
  const [row] = await db.query<{ appended_at: Date | null }>('SELECT appended_at FROM event_outbox WHERE id = $1', [id]);
  assert.ok(row, `event_outbox row ${id} exists`);
  return row.appended_at;
}

/** Every event in the log, by id, with the number of times it is there. */
async function logged(log: EventLog): Promise<Map<string, { count: number; event: VigilEvent }>> {
  const found = new Map<string, { count: number; event: VigilEvent }>();
  for await (const record of log.readSince(new Date(0))) {
    const seen = found.get(record.event.id);
    found.set(record.event.id, { count: (seen?.count ?? 0) + 1, event: record.event });
  }
  return found;
}

/** A JSON value as it comes back from a jsonb column. */
const asStored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

for (const kind of ['kafka', 'table'] as const) {
  describe(`lifecycle event relay: publish and the sweep (${kind} event log)`, () => {
    let t: TestDatabase;
    let log: EventLog;
    const topic = `vigil-test-lifecycle-hand-off-${randomBytes(4).toString('hex')}`;
    const relays: LifecycleEventRelay[] = [];

    const openLog = (): Promise<EventLog> =>
      kind === 'kafka'
        ? createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions: 1, clientId: 'vigil-test' })
        : createTableEventLog({ db: t.db, partitions: 1, retentionMs: 0 });

    before(async () => {
      t = await createTestDatabase();
      log = await openLog();
    });
    after(async () => {
      for (const relay of relays) await relay.close().catch(() => undefined);
      await log?.close().catch(() => undefined);
      await t?.drop();
      if (kind === 'kafka') await removeKafkaTopic(topic);
    });

    async function startRelay(options: Partial<LifecycleEventRelayOptions> = {}): Promise<LifecycleEventRelay> {
      const relay = await startLifecycleEventRelay({ db: t.db, log, pollMs: 100, sweepAfterMs: longSweepAfterMs, ...options });
      relays.push(relay);
      return relay;
    }
    async function closeRelay(relay: LifecycleEventRelay): Promise<void> {
      relays.splice(relays.indexOf(relay), 1);
      await relay.close();
    }
    const waitForAppended = (id: string) => waitFor(`event_outbox row ${id} to be marked appended`, async () => (await appendedAt(t.db, id)) !== null, handOffWaitMs);

    test('publish appends the committed events to the log at once and marks their rows appended', async () => {
      const events = [lifecycleEvent('a0'), lifecycleEvent('a1'), lifecycleEvent('a2')];
      await commitEvents(t.db, events);
      const relay = await startRelay();
      relay.publish(events);
      for (const event of events) await waitForAppended(event.id);
      await closeRelay(relay);

      const inLog = await logged(log);
      for (const event of events) {
        assert.equal(inLog.get(event.id)?.count, 1, `${event.id} is in the log once`);
        assert.deepEqual(inLog.get(event.id)?.event, event);
      }
    });

    test('a relay that leaves young rows to publish does not sweep a fresh row; an unrestricted pass does', async () => {
      const fresh = lifecycleEvent('b-fresh');
      const canary = lifecycleEvent('b-canary');
      await commitEvents(t.db, [fresh]);
      // Older than the sweep's threshold: once it is appended, the sweep has passed over the fresh row.
      await commitEvents(t.db, [canary], 2 * longSweepAfterMs);
      const relay = await startRelay();
      await waitForAppended(canary.id);
      // And once more, for a later (polled) pass.
      const later = lifecycleEvent('b-later');
      await commitEvents(t.db, [later], 2 * longSweepAfterMs);
      await waitForAppended(later.id);

      assert.equal(await appendedAt(t.db, fresh.id), null, 'the fresh row is still pending');
      assert.equal((await logged(log)).has(fresh.id), false, 'the fresh event is not in the log');
      assert.equal(await relayLifecycleEvents(t.db, log, 10, longSweepAfterMs), 0, 'a pass with the same age limit takes nothing');
      await closeRelay(relay);

      assert.ok((await relayLifecycleEvents(t.db, log, 100, 0)) >= 1, 'a pass without an age limit takes it');
      assert.notEqual(await appendedAt(t.db, fresh.id), null);
      const inLog = await logged(log);
      for (const event of [fresh, canary, later]) assert.equal(inLog.get(event.id)?.count, 1, `${event.event} ${event.id} is in the log once`);
    });

    test('a publication that fails (closed event log) leaves the row pending, and the sweep appends it later', async () => {
      const closedLog = await openLog();
      await closedLog.close();
      const warnings: Array<{ msg?: string; events?: number }> = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg?: string; events?: number }) });

      const event = lifecycleEvent('c-failed');
      await commitEvents(t.db, [event]);
      const broken = await startRelay({ log: closedLog, logger });
      broken.publish([event]);
      await closeRelay(broken); // waits for the publication to finish (here: to fail)
      assert.ok(warnings.some((warning) => warning.events === 1 && /not published at once/.test(warning.msg ?? '')), 'the failed publication was reported');
      assert.equal(await appendedAt(t.db, event.id), null, 'the row is still pending');
      assert.equal((await logged(log)).has(event.id), false, 'the event is not in the log');

      const sweeper = await startRelay({ sweepAfterMs: 200 });
      await waitForAppended(event.id);
      await closeRelay(sweeper);
      assert.equal((await logged(log)).get(event.id)?.count, 1, 'the sweep appended it once');
    });
  });
}

/** The one firing of an automation, by name. */
async function firingOf(db: Database, automation: string): Promise<string | undefined> {
  const rows = await db.query<{ id: string }>('SELECT id FROM firings WHERE automation_name = $1', [automation]);
  assert.ok(rows.length <= 1, `at most one firing of ${automation}`);
  return rows[0]?.id;
}

/** Checks that `writes` are exactly the outbox rows the firing committed, and that they were visible to other connections when handed over. */
async function assertWritesOfFiring(db: Database, call: Call, firingId: string, automation: string, actionCount: number): Promise<void> {
  const { writes } = call;
  assert.equal(call.insideTransaction, false, 'handed over after the transaction, not from inside it');
  const [actionsSeen, eventsSeen] = await call.visible;
  assert.deepEqual(new Set(actionsSeen), new Set(writes.actions.map((row) => row.id)), 'the action rows were committed when handed over');
  assert.deepEqual(new Set(eventsSeen), new Set(writes.events.map((event) => event.id)), 'the event rows were committed when handed over');

  assert.equal(writes.actions.length, actionCount);
  const stored = await db.query<Record<string, unknown>>(
    `SELECT id, firing_id, automation_name, phase, action_index, action, context FROM action_outbox WHERE firing_id = $1 ORDER BY action_index`,
    [firingId],
  );
  assert.deepEqual(stored, asStored(writes.actions), 'the handed-over rows are the stored rows');
  for (const [index, row] of writes.actions.entries()) {
    assert.equal(row.firing_id, firingId);
    assert.equal(row.automation_name, automation);
    assert.equal(row.phase, 'triggered');
    assert.equal(row.action_index, index);
    assert.equal(row.context.firing.id, firingId);
  }

  assert.equal(writes.events.length, 1, 'one lifecycle event');
  const [event] = writes.events;
  assert.equal(event?.event, 'vigil.automation.triggered');
  assert.equal(event.payload['firing_id'], firingId);
  const [storedEvent] = await db.query<{ event: VigilEvent }>('SELECT event FROM event_outbox WHERE id = $1', [event.id]);
  assert.deepEqual(storedEvent?.event, asStored(event));
}

interface Call {
  readonly writes: OutboxWrites;
  /** Whether the call came from inside a transaction's work (instead of after its commit). */
  readonly insideTransaction: boolean;
  /** The ids of the handed-over rows that another connection saw, read as soon as they were handed over. */
  readonly visible: Promise<[string[], string[]]>;
}

/** Set while a transaction's work runs (see `tracked`). */
const transactionWork = new AsyncLocalStorage<true>();

/** The database, marking the work of each transaction, so that a hand-off from inside one shows. */
function tracked(db: Database): Database {
  return { ...db, transaction: (work) => db.transaction((tx) => transactionWork.run(true, () => work(tx))) };
}

/** An onCommitted that records each call and reads the rows it was given, from another connection, at once. */
function recorder(db: Database): { calls: Call[]; onCommitted: OutboxHandOff } {
  const calls: Call[] = [];
  const onCommitted: OutboxHandOff = (writes) => {
    const insideTransaction = transactionWork.getStore() === true;
    const visible = Promise.all([
      db.query<{ id: string }>('SELECT id FROM action_outbox WHERE id = ANY($1::uuid[])', [writes.actions.map((row) => row.id)]),
      db.query<{ id: string }>('SELECT id FROM event_outbox WHERE id = ANY($1::uuid[])', [writes.events.map((event) => event.id)]),
    ]).then(([actions, events]): [string[], string[]] => [actions.map((row) => row.id), events.map((row) => row.id)]);
    visible.catch(() => undefined); // awaited by the test
    calls.push({ writes, insideTransaction, visible });
  };
  return { calls, onCommitted };
}

describe('onCommitted of the trigger evaluator and the deadline timer', () => {
  let t: TestDatabase;
  let log: EventLog;
  let evaluator: TriggerEvaluator | undefined;
  const topic = `vigil-test-on-committed-${randomBytes(4).toString('hex')}`;
  const group = `g-on-committed-${randomBytes(3).toString('hex')}`;

  before(async () => {
    t = await createTestDatabase();
    const repository = createAutomationRepository(t.db);
    for (const automation of [
      {
        name: 'each-finish',
        trigger: { type: 'event', expect: ['app.job.finished'], for_each: ['resource.id'] },
        actions: [
          { kind: 'emit-event', event: 'job.seen', resource: { id: '{{ event.resource.id }}' } },
          { kind: 'call-webhook', url: 'http://127.0.0.1:9/never-called' },
        ],
      },
      {
        name: 'twice-retried',
        trigger: { type: 'event', expect: ['app.job.retried'], for_each: ['resource.id'], threshold: 2, within: '1h' },
        actions: [{ kind: 'emit-event', event: 'job.flaky', resource: { id: '{{ event.resource.id }}' } }],
      },
      {
        name: 'success-after-start',
        trigger: { type: 'event', posture: 'proactive', after: ['job.started'], expect: ['job.succeeded'], for_each: ['resource.id'], within: '1s' },
        actions: [{ kind: 'emit-event', event: 'job.missed', resource: { id: '{{ for_each["resource.id"] }}' } }],
      },
    ]) {
      const saved = await repository.upsert(automation);
      if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
    }
    log = await createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions: 1, clientId: 'vigil-test' });
  });
  after(async () => {
    await evaluator?.close().catch(() => undefined);
    await log?.close().catch(() => undefined);
    await t?.drop();
    await removeKafkaTopic(topic);
  });

  const event = (name: string, resource: string): VigilEvent => {
    const now = new Date().toISOString();
    return { id: `${name}-${randomUUID()}`, occurred: now, received: now, event: name, resource: { id: resource }, related: [], payload: {} };
  };

  /** Positions the evaluator stored for the group: every batch stores them here (idlePositionsIntervalMs 0). */
  async function storedPosition(): Promise<bigint> {
    const [row] = await t.db.query<{ next: bigint | null }>('SELECT sum(next_offset)::bigint AS next FROM consumer_positions WHERE consumer_group = $1', [group]);
    return BigInt(row?.next ?? 0);
  }
  let appended = 0n;
  async function appendAndWaitApplied(events: VigilEvent[]): Promise<void> {
    await log.append(events);
    appended += BigInt(events.length);
    await waitFor(`the evaluator to store the position after ${appended} records`, async () => (await storedPosition()) >= appended, handOffWaitMs);
  }

  test('the evaluator hands over each committed firing (its action rows and its triggered event), and nothing for batches without one', async () => {
    const { calls: evaluatorCalls, onCommitted } = recorder(t.db);
    evaluator = await startTriggerEvaluator({ db: tracked(t.db), log, group, allowedLatenessMs, maxBatchSize: 50, idlePositionsIntervalMs: 0, onCommitted });

    // A batch that matches nothing, then one that matches but fires nothing (threshold 2): both
    // commit a transaction (idlePositionsIntervalMs 0), neither has outbox rows.
    await appendAndWaitApplied([event('app.job.queued', 'job.1'), event('app.job.queued', 'job.2')]);
    await appendAndWaitApplied([event('app.job.retried', 'job.1')]);
    const [state] = await t.db.query<{ n: bigint }>(`SELECT count(*) AS n FROM trigger_state WHERE automation_name = 'twice-retried'`);
    assert.equal(Number(state?.n), 1, 'the matching event was applied');
    assert.equal(evaluatorCalls.length, 0, 'no hand-off for batches without outbox rows');

    // A firing.
    await appendAndWaitApplied([event('app.job.finished', 'job.1')]);
    await waitFor('the hand-off of the first firing', () => evaluatorCalls.length >= 1, handOffWaitMs);
    const finished = await firingOf(t.db, 'each-finish');
    assert.ok(finished, 'each-finish fired');
    assert.equal(evaluatorCalls.length, 1);
    await assertWritesOfFiring(t.db, evaluatorCalls[0]!, finished, 'each-finish', 2);

    // Nothing again, then the second retry fires: one more hand-off, and only one.
    await appendAndWaitApplied([event('app.job.queued', 'job.3')]);
    await appendAndWaitApplied([event('app.job.retried', 'job.1')]);
    await waitFor('the hand-off of the second firing', () => evaluatorCalls.length >= 2, handOffWaitMs);
    const retried = await firingOf(t.db, 'twice-retried');
    assert.ok(retried, 'twice-retried fired');
    assert.equal(evaluatorCalls.length, 2, 'the batch that matched nothing in between was not handed over');
    await assertWritesOfFiring(t.db, evaluatorCalls[1]!, retried, 'twice-retried', 1);

    await evaluator.close();
    evaluator = undefined;
  });

  test('the deadline timer hands over the firing it commits, and nothing when nothing is due', async () => {
    const catalog = await startAutomationCatalog({ db: t.db, allowedLatenessMs });
    try {
      await waitFor('the catalog', () => catalog.current().programs.has('success-after-start'));
      const metrics = triggerMetrics();
      const { calls: timerCalls, onCommitted: timerOnCommitted } = recorder(t.db);
      const started = event('job.started', 'job.timer');
      await t.db.transaction((tx) =>
        applyBatch(tx, 'timer-test', { records: [{ partition: 0, offset: 0n, timestamp: new Date(), event: started }], nextPositions: new Map([[0, 1n]]) }, catalog.current(), {
          allowedLatenessMs,
          now: Date.now(),
          metrics,
        }),
      );
      const later = Date.now() + 60_000;
      const options = { limit: 10, allowedLatenessMs, metrics, onCommitted: timerOnCommitted };
      assert.ok((await fireDueStates(tracked(t.db), catalog.current(), later, options)) >= 1, 'the missed expectation was due');
      const missed = await firingOf(t.db, 'success-after-start');
      assert.ok(missed, 'success-after-start fired');
      assert.equal(timerCalls.length, 1, 'called once the transaction committed');
      await assertWritesOfFiring(t.db, timerCalls[0]!, missed, 'success-after-start', 1);

      assert.equal(await fireDueStates(tracked(t.db), catalog.current(), later, options), 0, 'nothing due any more');
      assert.equal(timerCalls.length, 1, 'no hand-off without outbox rows');
    } finally {
      await catalog.close();
    }
  });
});

describe('the hand-off wired as `vigil start` wires it (triggers and actions in one process)', () => {
  let harness: ActionsHarness;
  let receiver: WebhookReceiver;
  let log: EventLog;
  const topic = `vigil-test-wired-hand-off-${randomBytes(4).toString('hex')}`;
  const closers: Array<() => Promise<unknown>> = [];

  before(async () => {
    harness = await startActionsHarness({ relay: false });
    receiver = await startWebhookReceiver();
    log = await createKafkaEventLog({ brokers: kafkaBrokers, topic, partitions: 1, clientId: 'vigil-test' });
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await log?.close().catch(() => undefined);
    await harness?.close();
    await receiver?.close();
    await removeKafkaTopic(topic);
  });

  test('a firing reaches the webhook and its triggered event the log through the hand-offs, before any sweep could take them', async () => {
    const db = harness.database.db;
    const saved = await createAutomationRepository(db).upsert({
      name: 'wired',
      trigger: { type: 'event', expect: ['app.job.failed'], for_each: ['resource.id'] },
      actions: [{ kind: 'call-webhook', url: `${receiver.url}/wired/{{ event.resource.id }}`, retry: fastRetry }],
    });
    if (!saved.ok) throw new Error(JSON.stringify(saved.errors));

    const actionRelay = await startOutboxRelay({ db, queue: harness.queue, logger: silentPino, pollIntervalMs: 100, sweepAfterMs: longSweepAfterMs });
    closers.push(() => actionRelay.close());
    const lifecycleRelay = await startLifecycleEventRelay({ db, log, pollMs: 100, sweepAfterMs: longSweepAfterMs });
    closers.push(() => lifecycleRelay.close());
    const evaluator = await startTriggerEvaluator({
      db,
      log,
      group: `g-wired-${randomBytes(3).toString('hex')}`,
      allowedLatenessMs,
      onCommitted: ({ actions, events }) => {
        lifecycleRelay.publish(events);
        actionRelay.handOff(actions);
      },
    });
    closers.push(() => evaluator.close());

    const now = new Date().toISOString();
    await log.append([{ id: `failed-${randomUUID()}`, occurred: now, received: now, event: 'app.job.failed', resource: { id: 'job.wired' }, related: [], payload: {} }]);

    const firing = await waitFor('the firing', () => firingOf(db, 'wired'), handOffWaitMs);
    const [outbox] = await db.query<{ id: string }>('SELECT id FROM action_outbox WHERE firing_id = $1', [firing]);
    assert.ok(outbox, 'the action row');
    const run = await harness.waitForRun(outbox.id, 'succeeded', handOffWaitMs);
    assert.equal(run.firing_id, firing);
    assert.deepEqual(receiver.attemptsOf(outbox.id).map((request) => request.path), ['/wired/job.wired']);
    await waitFor('the action row to be marked relayed', async () => {
      const [row] = await db.query<{ relayed_at: Date | null }>('SELECT relayed_at FROM action_outbox WHERE id = $1', [outbox.id]);
      return row?.relayed_at != null;
    }, handOffWaitMs);

    const [lifecycle] = await db.query<{ id: string }>(`SELECT id FROM event_outbox WHERE event->>'event' = 'vigil.automation.triggered' AND event->'payload'->>'firing_id' = $1`, [firing]);
    assert.ok(lifecycle, 'the triggered event row');
    await waitFor('the triggered event to be marked appended', async () => (await appendedAt(db, lifecycle.id)) !== null, handOffWaitMs);
    const inLog = await logged(log);
    assert.equal(inLog.get(lifecycle.id)?.count, 1, 'the triggered event is in the log once');
  });
});
