import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Firing } from '../../schemas/api-resources.ts';
import { startActionsApiHarness, type ActionsApiHarness } from '../actions/api-harness.ts';
import { runCli } from './run-cli.ts';

/*
 * vigil firings list against the real HTTP app and PostgreSQL (firings arranged in the table the
 * trigger evaluator writes): a table newest first, filters by automation, status and time,
 * --limit across pages, --json for scripts, bad options refused before any request.
 */
describe('vigil firings list', () => {
  let harness: ActionsApiHarness;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};
  const cli = (...args: string[]) => runCli(args, { env });

  before(async () => {
    harness = await startActionsApiHarness({ secretKey: undefined, queue: false });
    env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.readKey };
    const rows: Array<[string, string, 'triggered' | 'resolved', string, Record<string, string>]> = [
      ['old', 'sales-sla', 'resolved', '2026-11-20T09:00:00Z', { 'resource.id': 'dbt.model.sales' }],
      ['mid', 'dag-failures', 'triggered', '2026-11-21T10:15:00Z', { 'resource.id': 'airflow.dag.etl', 'resource.env': 'prod' }],
      ['new', 'sales-sla', 'triggered', '2026-11-22T09:00:00Z', {}],
    ];
    for (const [label, automation, status, triggeredAt, forEach] of rows) {
      ids[label] = randomUUID();
      await harness.database.db.query(
        `INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, resolved_at, window_start, window_end, deadline, event_count, event_ids)
         VALUES ($1, $2, $9, $3, $4, $5, $6, $5, $5, $7, $8, '[]')`,
        [ids[label], automation, JSON.stringify(forEach), status, triggeredAt, status === 'resolved' ? '2026-11-20T09:30:00Z' : null, automation === 'sales-sla' ? triggeredAt : null, automation === 'sales-sla' ? 0 : 3, `key-${label}`],
      );
    }
  });
  after(async () => {
    await harness?.close();
  });

  test('a table of every automation\'s firings, newest first', async () => {
    const result = await cli('firings', 'list');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        'ID                                    AUTOMATION    STATUS     TRIGGERED             RESOLVED              DEADLINE              EVENTS  KEY',
        `${ids.new}  sales-sla     triggered  2026-11-22 09:00:00Z  -                     2026-11-22 09:00:00Z  0       -`,
        `${ids.mid}  dag-failures  triggered  2026-11-21 10:15:00Z  -                     -                     3       resource.id=airflow.dag.etl resource.env=prod`,
        `${ids.old}  sales-sla     resolved   2026-11-20 09:00:00Z  2026-11-20 09:30:00Z  2026-11-20 09:00:00Z  0       resource.id=dbt.model.sales`,
        '',
      ].join('\n'),
    );
  });

  test('filters, --limit over pages and --json', async () => {
    const json = async (...args: string[]) => {
      const result = await cli('firings', 'list', '--json', ...args);
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as Firing[]).map((firing) => firing.id);
    };
    assert.deepEqual(await json('--automation', 'sales-sla'), [ids.new, ids.old]);
    assert.deepEqual(await json('--status', 'triggered'), [ids.new, ids.mid]);
    assert.deepEqual(await json('--since', '2026-11-21T00:00:00Z', '--until', '2026-11-22T09:00:00Z'), [ids.mid]);
    assert.deepEqual(await json('--limit', '2'), [ids.new, ids.mid]);
    assert.deepEqual(await json('--automation', 'nobody'), []);
    const full = JSON.parse((await cli('firings', 'list', '--json', '--limit', '1')).stdout) as Firing[];
    assert.equal(full[0]!.automation_name, 'sales-sla');
    assert.equal(full[0]!.deadline, '2026-11-22T09:00:00.000Z');
  });

  test('bad options exit 2 before any request; the server\'s refusals keep their exit codes', async () => {
    for (const args of [['--status', 'firing'], ['--since', 'yesterday'], ['--limit', '0']]) {
      const result = await cli('firings', 'list', ...args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    }
    const range = await cli('firings', 'list', '--since', '2026-11-22T00:00:00Z', '--until', '2026-11-21T00:00:00Z');
    assert.equal(range.code, 1);
    assert.match(range.stderr, /query parameter until: must be later than since \[400 invalid_query\]/);
    const writer = await runCli(['firings', 'list'], { env: { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.writeKey } });
    assert.equal(writer.code, 3);
    assert.match(writer.stderr, /lacks the "read" scope/);
  });
});
