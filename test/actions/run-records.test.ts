/**
 * The coalesced `action_runs` writes of the action workers (actions/run-records.ts) against a
 * real, migrated PostgreSQL database: what each call writes, that concurrent calls share
 * statements, and that a run id appearing twice in one batch is written twice, in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createRunRecords, type RunStart, type RunSuccess } from '../../actions/run-records.ts';
import type { Database } from '../../platform/ports/database.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

interface Statement {
  readonly text: string;
  readonly params: readonly unknown[] | undefined;
}

/** The database, with every statement run through `query` recorded. */
function counting(db: Database): { db: Database; statements: Statement[] } {
  const statements: Statement[] = [];
  const query = <Row extends object>(text: string, params?: readonly unknown[]): Promise<Row[]> => {
    statements.push({ text, params });
    return db.query<Row>(text, params);
  };
  const proxy = new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'query') return query;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return { db: proxy, statements };
}

interface RunRow {
  id: string;
  firing_id: string;
  automation_name: string;
  phase: string;
  action_index: number;
  kind: string;
  status: string;
  attempts: number;
  created_at: Date;
  first_started_at: Date | null;
  last_started_at: Date | null;
  finished_at: Date | null;
  next_attempt_at: Date | null;
  duration_ms: number | null;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
  result: unknown;
  updated_at: Date;
}

function runStart(overrides: Partial<RunStart> = {}): RunStart {
  return {
    id: randomUUID(),
    firingId: randomUUID(),
    automationName: 'nightly-sales-refresh',
    phase: 'triggered',
    actionIndex: 0,
    kind: 'call-webhook',
    ...overrides,
  };
}

describe('action run records (coalesced action_runs writes)', () => {
  let database: TestDatabase;
  let db: Database;
  let statements: Statement[];

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });
  beforeEach(() => {
    ({ db, statements } = counting(database.db));
  });

  async function rows(ids: readonly string[]): Promise<Map<string, RunRow>> {
    const found = await database.db.query<RunRow>('SELECT * FROM action_runs WHERE id = ANY($1::uuid[])', [[...ids]]);
    return new Map(found.map((row) => [row.id, row]));
  }

  async function row(id: string): Promise<RunRow> {
    const found = (await rows([id])).get(id);
    assert.ok(found, `action_runs has a row for ${id}`);
    return found;
  }

  test('start inserts a running row with attempt 1 and returns 1', async () => {
    const records = createRunRecords(db);
    const run = runStart({ phase: 'resolved', actionIndex: 3, kind: 'send-notification', automationName: 'pool-saturation' });
    const calledAt = new Date();
    assert.equal(await records.start(run), 1);

    const stored = await row(run.id);
    assert.equal(stored.status, 'running');
    assert.equal(stored.attempts, 1);
    assert.equal(stored.firing_id, run.firingId);
    assert.equal(stored.automation_name, 'pool-saturation');
    assert.equal(stored.phase, 'resolved');
    assert.equal(stored.action_index, 3);
    assert.equal(stored.kind, 'send-notification');
    assert.ok(stored.first_started_at && stored.first_started_at.getTime() >= calledAt.getTime() - 5_000);
    assert.deepEqual(stored.last_started_at, stored.first_started_at);
    assert.equal(stored.finished_at, null);
    assert.equal(stored.next_attempt_at, null);
    assert.equal(statements.length, 1, 'a lone call is one statement');
  });

  test('a second start of the same run returns 2 and keeps the first start time', async () => {
    const records = createRunRecords(db);
    const run = runStart();
    assert.equal(await records.start(run), 1);
    const first = await row(run.id);
    // As the failure path leaves a run between attempts.
    await database.db.query(
      `UPDATE action_runs SET status = 'retrying', error = 'HTTP 503', next_attempt_at = now() + interval '1 minute' WHERE id = $1`,
      [run.id],
    );

    assert.equal(await records.start(run), 2);
    const second = await row(run.id);
    assert.equal(second.status, 'running');
    assert.equal(second.attempts, 2);
    assert.deepEqual(second.first_started_at, first.first_started_at, 'first_started_at is kept');
    assert.ok(second.last_started_at! >= first.last_started_at!);
    assert.equal(second.next_attempt_at, null, 'the scheduled retry time is cleared');
    assert.equal(await records.start(run), 3);
  });

  test('start of a run queued by the outbox relay (attempts 0) records attempt 1', async () => {
    const records = createRunRecords(db);
    const run = runStart();
    await database.db.query(
      `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'queued')`,
      [run.id, run.firingId, run.automationName, run.phase, run.actionIndex, run.kind],
    );
    const queued = await row(run.id);
    assert.equal(await records.start(run), 1);
    const started = await row(run.id);
    assert.equal(started.status, 'running');
    assert.equal(started.attempts, 1);
    assert.deepEqual(started.created_at, queued.created_at);
    assert.notEqual(started.first_started_at, null);
  });

  test('concurrent starts of 50 different runs are all recorded with attempt 1, in fewer statements than calls', async () => {
    const records = createRunRecords(db);
    const runs = Array.from({ length: 50 }, (_, index) => runStart({ actionIndex: index }));
    const attempts = await Promise.all(runs.map((run) => records.start(run)));
    assert.deepEqual(
      attempts,
      runs.map(() => 1),
    );

    const stored = await rows(runs.map((run) => run.id));
    assert.equal(stored.size, 50);
    for (const run of runs) {
      const found = stored.get(run.id);
      assert.ok(found, `run ${run.id} recorded`);
      assert.equal(found.status, 'running');
      assert.equal(found.attempts, 1);
      assert.equal(found.firing_id, run.firingId);
      assert.equal(found.action_index, run.actionIndex, 'each run keeps its own columns');
    }
    assert.ok(statements.length < runs.length, `${statements.length} statements for ${runs.length} calls`);
    // The first call goes out alone; the 49 that arrived meanwhile share the next statement.
    assert.equal(statements.length, 2);
  });

  test('two concurrent starts of the same run in one batch both succeed, with attempts 1 and 2', async () => {
    const records = createRunRecords(db);
    const first = runStart();
    const run = runStart();
    // `first` goes out alone; both starts of `run` arrive while it is in flight and form the next batch.
    const attempts = await Promise.all([records.start(first), records.start(run), records.start({ ...run })]);
    assert.equal(attempts[0], 1);
    assert.deepEqual([attempts[1], attempts[2]].sort(), [1, 2]);
    const stored = await row(run.id);
    assert.equal(stored.attempts, 2);
    assert.equal(stored.status, 'running');

    // The batch held the id twice: it was written in two statements (a statement cannot touch a row twice).
    const ids = statements.map((statement) => statement.params?.[0]);
    assert.deepEqual(ids, [[first.id], [run.id], [run.id]]);
  });

  test('a batch mixing new runs and repeated ones gives each caller its own attempt number', async () => {
    const records = createRunRecords(db);
    const again = runStart();
    assert.equal(await records.start(again), 1);
    statements.length = 0;

    const blocker = runStart();
    const fresh = Array.from({ length: 5 }, () => runStart());
    const calls = [blocker, fresh[0]!, again, fresh[1]!, { ...again }, fresh[2]!, fresh[3]!, { ...again }, fresh[4]!];
    const attempts = await Promise.all(calls.map((run) => records.start(run)));
    assert.deepEqual(attempts, [1, 1, 2, 1, 3, 1, 1, 4, 1], 'repeated starts of one run are counted in arrival order');
    assert.equal((await row(again.id)).attempts, 4);
    // One statement for the blocker, then one per occurrence of the repeated id.
    assert.equal(statements.length, 4);
  });

  test('start of a run that already succeeded returns null and leaves the row unchanged', async () => {
    const records = createRunRecords(db);
    const done = runStart();
    assert.equal(await records.start(done), 1);
    await records.succeed({ id: done.id, durationMs: 12, responseStatus: 200, responseBody: 'ok', result: '{"ok":true}' });
    const succeeded = await row(done.id);
    assert.equal(succeeded.status, 'succeeded');

    assert.equal(await records.start(done), null);
    assert.deepEqual(await row(done.id), succeeded);

    // Also inside a batch with other runs: only the succeeded one is refused.
    const blocker = runStart();
    const others = [runStart(), runStart()];
    const attempts = await Promise.all([records.start(blocker), records.start(others[0]!), records.start({ ...done }), records.start(others[1]!)]);
    assert.deepEqual(attempts, [1, 1, null, 1]);
    assert.deepEqual(await row(done.id), succeeded);
  });

  test('succeed records the outcome of a batch of concurrent calls, nulls included', async () => {
    const records = createRunRecords(db);
    const runs = Array.from({ length: 12 }, () => runStart());
    await Promise.all(runs.map((run) => records.start(run)));
    // One run had failed an attempt before: succeeding clears its error and retry time.
    await database.db.query(`UPDATE action_runs SET error = 'HTTP 503', next_attempt_at = now() + interval '1 minute' WHERE id = $1`, [runs[1]!.id]);
    statements.length = 0;

    const successes: RunSuccess[] = runs.map((run, index) =>
      index % 3 === 0
        ? { id: run.id, durationMs: null, responseStatus: null, responseBody: null, result: null }
        : {
            id: run.id,
            durationMs: 100 + index,
            responseStatus: 200 + index,
            responseBody: `body ${index} – "quoted" ✓`,
            result: JSON.stringify({ channel: `C${index}`, ts: `1700000000.${index}`, nested: { list: [index, null, true] } }),
          },
    );
    const beforeSucceed = new Date();
    const outcomes = await Promise.all(successes.map((success) => records.succeed(success)));
    assert.deepEqual(
      outcomes,
      successes.map(() => undefined),
    );
    assert.ok(statements.length < successes.length, `${statements.length} statements for ${successes.length} calls`);

    const stored = await rows(runs.map((run) => run.id));
    for (const [index, success] of successes.entries()) {
      const found = stored.get(success.id)!;
      assert.equal(found.status, 'succeeded');
      assert.ok(found.finished_at && found.finished_at.getTime() >= beforeSucceed.getTime() - 5_000, 'finished_at is set');
      assert.equal(found.duration_ms, success.durationMs);
      assert.equal(found.response_status, success.responseStatus);
      assert.equal(found.response_body, success.responseBody);
      assert.deepEqual(found.result, success.result === null ? null : JSON.parse(success.result), 'result is stored as jsonb');
      assert.equal(found.error, null);
      assert.equal(found.next_attempt_at, null);
      assert.equal(found.attempts, 1, `run ${index}: succeed does not count an attempt`);
    }
    const jsonType = await database.db.query<{ type: string }>('SELECT jsonb_typeof(result) AS type FROM action_runs WHERE id = $1', [runs[1]!.id]);
    assert.equal(jsonType[0]?.type, 'object', 'the JSON text is stored as a jsonb object, not as a string');
  });

  test('two succeeds of the same run in one batch are both written, the later one last', async () => {
    const records = createRunRecords(db);
    const blocker = runStart();
    const run = runStart();
    await Promise.all([records.start(blocker), records.start(run)]);
    statements.length = 0;

    await Promise.all([
      records.succeed({ id: blocker.id, durationMs: 1, responseStatus: 204, responseBody: null, result: null }),
      records.succeed({ id: run.id, durationMs: 5, responseStatus: 200, responseBody: 'first', result: '{"n":1}' }),
      records.succeed({ id: run.id, durationMs: 7, responseStatus: 201, responseBody: 'second', result: '{"n":2}' }),
    ]);
    const stored = await row(run.id);
    assert.equal(stored.duration_ms, 7);
    assert.equal(stored.response_status, 201);
    assert.equal(stored.response_body, 'second');
    assert.deepEqual(stored.result, { n: 2 });
    assert.equal(statements.length, 3, 'the blocker, then one statement per occurrence of the repeated id');
  });

  test('a failed statement rejects the callers of its batch; the next batch is written', async () => {
    const records = createRunRecords(db);
    const blocker = runStart();
    const good = runStart();
    await Promise.all([records.start(blocker), records.start(good)]);

    const failing = Promise.allSettled([
      records.succeed({ id: blocker.id, durationMs: 1, responseStatus: 200, responseBody: null, result: null }),
      // Not JSON: the result::jsonb cast fails the statement.
      records.succeed({ id: good.id, durationMs: 2, responseStatus: 200, responseBody: null, result: 'not json' }),
    ]);
    const [first, second] = await failing;
    assert.equal(first?.status, 'fulfilled');
    assert.equal(second?.status, 'rejected');
    assert.equal((await row(good.id)).status, 'running', 'nothing of the failed batch was written');

    await records.succeed({ id: good.id, durationMs: 2, responseStatus: 200, responseBody: null, result: '{"retried":true}' });
    assert.equal((await row(good.id)).status, 'succeeded');
  });

  test(
    'a run whose response body holds a NUL byte does not fail the other runs of its batch',
    async () => {
      const records = createRunRecords(db);
      const blocker = runStart();
      const binary = runStart();
      const innocent = runStart();
      await Promise.all([records.start(blocker), records.start(binary), records.start(innocent)]);

      const [, , innocentOutcome] = await Promise.allSettled([
        records.succeed({ id: blocker.id, durationMs: 1, responseStatus: 200, responseBody: null, result: null }),
        // Both arrive while the blocker's statement is in flight: one batch.
        records.succeed({ id: binary.id, durationMs: 1, responseStatus: 200, responseBody: 'GIF89a\u0000\u0001', result: null }),
        records.succeed({ id: innocent.id, durationMs: 1, responseStatus: 200, responseBody: 'ok', result: null }),
      ]);
      assert.equal(innocentOutcome?.status, 'fulfilled', 'a run with a well-formed record is not failed by a batch-mate');
      assert.equal((await row(innocent.id)).status, 'succeeded');
    },
  );
});
