import { createCoalescer } from '../platform/coalescer.ts';
import type { Database, Sql } from '../platform/ports/database.ts';
import { storableText } from '../schemas/storable.ts';

/*
 * The one module that writes `action_runs` (migration 0003): the relay records a run `queued`
 * with the outbox row it relays (recordQueuedRuns, a part of the relay's own statement); the
 * workers record each attempt (RunRecords); a retry from the API sends a failed run back
 * (claimFailedRun, restoreFailedRun). actions/action-runs.ts reads the rows for the API.
 */

/** Records the runs of the outbox rows in `source` (a CTE name) as `queued`: a part of the relay's statement. */
export const recordQueuedRuns = (source: string): string =>
  // In id order, as the workers' run records are written: a worker may be inserting the same
  // rows at the same moment, and two inserts that wait on each other's rows would deadlock.
  `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status)
   SELECT id, firing_id, automation_name, phase, action_index, coalesce(action->>'kind', 'unknown'), 'queued' FROM ${source}
   ORDER BY id
   ON CONFLICT (id) DO NOTHING`;

/**
 * Claims a failed run for a retry: of concurrent retries of one run, one wins; the others see
 * it is no longer failed. Resolves with the run's finished_at before the claim, or `undefined`
 * when it is not a failed run.
 */
export async function claimFailedRun(db: Sql, id: string): Promise<{ readonly finishedAt: Date | null } | undefined> {
  const [claimed] = await db.query<{ finished_at: Date | null }>(
    `UPDATE action_runs r SET status = 'queued', next_attempt_at = NULL, finished_at = NULL, updated_at = now()
       FROM (SELECT id, finished_at FROM action_runs WHERE id = $1 AND status = 'failed' FOR UPDATE) previous
      WHERE r.id = previous.id
      RETURNING previous.finished_at`,
    [id],
  );
  return claimed ? { finishedAt: claimed.finished_at } : undefined;
}

/** Puts a claimed run back in the dead-letter list as it was, when its retry could not be carried out. */
export async function restoreFailedRun(db: Sql, id: string, finishedAt: Date | null): Promise<void> {
  await db.query(`UPDATE action_runs SET status = 'failed', finished_at = coalesce($2, now()), updated_at = now() WHERE id = $1 AND status = 'queued'`, [
    id,
    finishedAt,
  ]);
}

/**
 * The writes every action attempt makes to its `action_runs` row — "running" before the call,
 * "succeeded" after it — coalesced across the attempts of this process: the attempts that start
 * (or succeed) while one such statement is in flight are written together by the next. Under
 * load that turns two statements per action into two per batch of actions; an idle worker
 * still writes at once. A failed attempt ("retrying" or "failed") is written at once.
 */
export interface RunStart {
  readonly id: string;
  readonly firingId: string;
  readonly automationName: string;
  readonly phase: string;
  readonly actionIndex: number;
  readonly kind: string;
}

export interface RunSuccess {
  readonly id: string;
  readonly durationMs: number | null;
  readonly responseStatus: number | null;
  readonly responseBody: string | null;
  /** JSON text of the kind's result (Slack channel and ts, a flow run id, …). */
  readonly result: string | null;
}

export interface RunFailure {
  readonly id: string;
  /** `retrying` (the queue tries again in `retryDelayMs`) or `failed` (dead-lettered). */
  readonly status: 'retrying' | 'failed';
  readonly retryDelayMs: number;
  readonly error: string;
  readonly durationMs: number | null;
  readonly responseStatus: number | null;
  readonly responseBody: string | null;
}

export interface RunRecords {
  /** Records an attempt as running; resolves with its attempt number, or null when the run already succeeded. */
  start(run: RunStart): Promise<number | null>;
  succeed(run: RunSuccess): Promise<void>;
  /** Records a failed attempt; resolves with the run's attempts, or null when it already succeeded. */
  fail(run: RunFailure): Promise<number | null>;
}

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Writes `items` in rounds in which every run id appears once (a statement may not touch a row
 * twice; ON CONFLICT DO UPDATE refuses to), each round's rows in id order so that two processes
 * writing overlapping rows cannot deadlock. When a round's statement fails, its items are
 * written one by one, so that a bad item fails alone and not the runs batched with it.
 */
async function writeInRounds<T extends { readonly id: string }, R>(
  items: readonly T[],
  write: (round: readonly T[]) => Promise<Map<string, R>>,
  missing: R,
): Promise<Outcome<R>[]> {
  const byRound: T[][] = [];
  for (const item of items) {
    const round = byRound.find((candidate) => !candidate.some((other) => other.id === item.id));
    if (round) round.push(item);
    else byRound.push([item]);
  }
  const outcomes = new Map<T, Outcome<R>>();
  for (const round of byRound) {
    round.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    try {
      const written = await write(round);
      for (const item of round) outcomes.set(item, { ok: true, value: written.get(item.id) ?? missing });
    } catch (error) {
      if (round.length === 1) {
        outcomes.set(round[0]!, { ok: false, error });
        continue;
      }
      for (const item of round) {
        try {
          outcomes.set(item, { ok: true, value: (await write([item])).get(item.id) ?? missing });
        } catch (itemError) {
          outcomes.set(item, { ok: false, error: itemError });
        }
      }
    }
  }
  return items.map((item) => outcomes.get(item)!);
}

function settled<In, Out>(write: (item: In) => Promise<Outcome<Out>>): (item: In) => Promise<Out> {
  return async (item) => {
    const outcome = await write(item);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  };
}

export function createRunRecords(db: Database): RunRecords {
  const start = createCoalescer<RunStart, Outcome<number | null>>((items) =>
    writeInRounds(
      items,
      async (round) => {
        const rows = await db.query<{ id: string; attempts: number }>(
          `INSERT INTO action_runs (id, firing_id, automation_name, phase, action_index, kind, status, attempts, first_started_at, last_started_at)
           SELECT u.id, u.firing_id, u.automation_name, u.phase, u.action_index, u.kind, 'running', 1, now(), now()
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[])
             AS u(id, firing_id, automation_name, phase, action_index, kind)
           ON CONFLICT (id) DO UPDATE SET status = 'running', attempts = action_runs.attempts + 1,
             first_started_at = coalesce(action_runs.first_started_at, now()), last_started_at = now(), next_attempt_at = NULL, updated_at = now()
           WHERE action_runs.status <> 'succeeded'
           RETURNING id, attempts`,
          [
            round.map((run) => run.id),
            round.map((run) => run.firingId),
            round.map((run) => storableText(run.automationName)),
            round.map((run) => run.phase),
            round.map((run) => run.actionIndex),
            round.map((run) => storableText(run.kind)),
          ],
        );
        // A run missing from the answer already succeeded (the update's WHERE left it alone).
        return new Map(rows.map((row) => [row.id, row.attempts]));
      },
      null,
    ),
  );

  const succeed = createCoalescer<RunSuccess, Outcome<undefined>>((items) =>
    writeInRounds(
      items,
      async (round) => {
        // `r.id = ANY(...)` lets the planner find the rows by index whatever it assumes of the
        // unnest's size (the join alone got a sequential scan of the whole table).
        await db.query(
          `UPDATE action_runs AS r SET status = 'succeeded', finished_at = now(), next_attempt_at = NULL, duration_ms = u.duration_ms,
             response_status = u.response_status, response_body = u.response_body, error = NULL, result = u.result::jsonb, updated_at = now()
           FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::text[]) AS u(id, duration_ms, response_status, response_body, result)
           WHERE r.id = u.id AND r.id = ANY($1::uuid[])`,
          [
            round.map((run) => run.id),
            round.map((run) => run.durationMs),
            round.map((run) => run.responseStatus),
            round.map((run) => storableText(run.responseBody)),
            round.map((run) => run.result),
          ],
        );
        return new Map<string, undefined>();
      },
      undefined,
    ),
  );

  const fail = async (run: RunFailure): Promise<number | null> => {
    const rows = await db.query<{ attempts: number }>(
      `UPDATE action_runs SET status = $2, error = $3, duration_ms = coalesce($4, duration_ms), response_status = $5, response_body = $6,
         next_attempt_at = CASE WHEN $2 = 'retrying' THEN now() + make_interval(secs => $7::double precision / 1000) END,
         finished_at = CASE WHEN $2 = 'failed' THEN now() END, updated_at = now()
       WHERE id = $1 AND status <> 'succeeded'
       RETURNING attempts`,
      [run.id, run.status, storableText(run.error), run.durationMs, run.responseStatus, storableText(run.responseBody), run.retryDelayMs],
    );
    return rows[0]?.attempts ?? null;
  };

  return { start: settled(start), succeed: settled(succeed), fail };
}
