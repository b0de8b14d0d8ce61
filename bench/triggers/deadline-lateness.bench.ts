// Lateness of deadline firings with 100,000 open deadlines: proactive expectations, 2,000 of
// which come due over ~10 s while the rest wait far in the future. Lateness = when the firing
// row was written (clock_timestamp) − its deadline. Target: p99 ≤ 1 s.
import { createAutomationRepository } from '../../triggers/automation-repository.ts';
import { startAutomationCatalog } from '../../triggers/automation-catalog.ts';
import { startDeadlineTimer, } from '../../triggers/deadline-timer.ts';
import { programHash } from '../../triggers/trigger-state-store.ts';
import { initialProactiveState } from '../../triggers/windows/proactive-window.ts';
import { createTestDatabase } from '../../test/support/test-database.ts';
import { waitFor } from '../../test/support/wait-for.ts';

export async function run(): Promise<Record<string, number | string>> {
  const t = await createTestDatabase();
  try {
    const saved = await createAutomationRepository(t.db).upsert({
      name: 'expect-success',
      trigger: { type: 'event', posture: 'proactive', after: ['job.started'], expect: ['job.succeeded'], for_each: ['resource.id'], within: '1h' },
    });
    if (!saved.ok) throw new Error(JSON.stringify(saved.errors));
    const catalog = await startAutomationCatalog({ db: t.db, allowedLatenessMs: 300_000 });
    const program = catalog.current().programs.get('expect-success')!;
    const total = 100_000;
    const soon = 2_000;
    const start = Date.now() + 3_000;
    const rows = Array.from({ length: total }, (_, i) => {
      const due = i < soon ? start + Math.floor((i * 10_000) / soon) : start + 86_400_000 + i * 1_000;
      const state = initialProactiveState({ threshold: 1, withinMs: 3_600_000, heartbeat: false, allowedLatenessMs: 0 }, null);
      state.window = { start: due - 3_600_000, due, ids: [], events: [], fired: null };
      return { key: JSON.stringify([`job.${i}`]), due, state: JSON.stringify(state), forEach: JSON.stringify({ 'resource.id': `job.${i}` }) };
    });
    for (let i = 0; i < rows.length; i += 10_000) {
      const chunk = rows.slice(i, i + 10_000);
      await t.db.query(
        `INSERT INTO trigger_state (automation_name, state_key, trigger_hash, for_each, state, due_at)
         SELECT 'expect-success', k, $1, f, s, d FROM unnest($2::text[], $3::jsonb[], $4::jsonb[], $5::timestamptz[]) AS u(k, f, s, d)`,
        [programHash(program), chunk.map((r) => r.key), chunk.map((r) => r.forEach), chunk.map((r) => r.state), chunk.map((r) => new Date(r.due).toISOString())],
      );
    }
    const timer = await startDeadlineTimer({ db: t.db, catalog });
    await waitFor('firings', async () => {
      const [row] = await t.db.query<{ n: bigint }>('SELECT count(*) AS n FROM firings');
      return Number(row!.n) >= soon;
    }, 120_000);
    await timer.close();
    await catalog.close();
    const [stats] = await t.db.query<{ p50: number; p99: number; max: number; n: bigint }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max, count(*) AS n
       FROM (SELECT extract(epoch FROM created_at - deadline) * 1000 AS ms FROM firings) x`,
    );
    return {
      'deadline firings measured (100,000 open)': Number(stats!.n),
      'deadline lateness p50 ms': Math.round(stats!.p50),
      'deadline lateness p99 ms (target ≤ 1000)': Math.round(stats!.p99),
      'deadline lateness max ms': Math.round(stats!.max),
    };
  } finally {
    await t.drop();
  }
}

if (import.meta.main) console.log(await run());
