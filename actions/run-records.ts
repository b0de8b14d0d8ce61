import { createCoalescer } from '../platform/coalescer.ts';
import type { Database } from '../platform/ports/database.ts';
import { storableText } from '../schemas/storable.ts';

/**
 * The two writes every action attempt makes to its `action_runs` row — "running" before the
 * call, "succeeded" after it — coalesced across the attempts of this process: the attempts that
 * start (or succeed) while one such statement is in flight are written together by the next.
 * Under load that turns two statements per action into two per batch of actions; an idle
 * worker still writes at once.
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

export interface RunRecords {
  /** Records an attempt as running; resolves with its attempt number, or null when the run already succeeded. */
  start(run: RunStart): Promise<number | null>;
  succeed(run: RunSuccess): Promise<void>;
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

  return { start: settled(start), succeed: settled(succeed) };
}
