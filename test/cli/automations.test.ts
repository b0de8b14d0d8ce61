import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy, type FaultProxy } from '../../sdk/testing/fault-proxy.ts';
import { startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { runCli, tempFiles } from './run-cli.ts';

/* apply, automations list and automations test against the real HTTP app (api/automations-routes.ts) over PostgreSQL. */

const failures = {
  name: 'cli-dag-failures',
  description: 'three failures of a DAG in an hour',
  trigger: { type: 'event', expect: ['airflow.dag_run.failed'], for_each: ['resource.id'], threshold: 3, within: '1h' },
};
const heartbeat = {
  name: 'cli-worker-heartbeat',
  trigger: { type: 'event', posture: 'proactive', expect: ['worker.heartbeat'], for_each: ['resource.id'], within: '5m' },
  actions: [{ kind: 'call-webhook', url: 'https://hooks.example.com/vigil', body: '{{ automation.name }}: {{ firing.for_each }}' }],
};

describe('vigil apply and vigil automations against the real HTTP app', () => {
  let harness: IngestHarness;
  let proxy: FaultProxy;
  let env: Record<string, string>;
  let files: Awaited<ReturnType<typeof tempFiles>>;
  const cli = (...args: string[]) => runCli(args, { env });
  const stored = async (): Promise<Array<{ name: string; description?: string; trigger: { within?: string } }>> => {
    const result = await cli('automations', 'list', '--json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Array<{ name: string; trigger: { within?: string } }>;
  };

  before(async () => {
    harness = await startIngestHarness();
    proxy = await startFaultProxy(harness.url);
    env = { VIGIL_URL: proxy.url, VIGIL_API_KEY: harness.adminKey };
    files = await tempFiles({
      'automations/failures.json': JSON.stringify(failures, null, 2),
      'automations/more/heartbeat.json': JSON.stringify([heartbeat]),
      'unsaved.json': JSON.stringify({ ...failures, trigger: { ...failures.trigger, threshold: 4 } }),
      'invalid.json': JSON.stringify({ ...failures, trigger: { ...failures.trigger, threshold: 0 } }),
      'events.json': JSON.stringify([
        { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.sales' }, occurred: '2026-01-01T00:00:00Z' },
        { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.sales' }, occurred: '2026-01-01T00:10:00Z' },
        { event: 'airflow.dag_run.success', resource: { id: 'airflow.dag.sales' }, occurred: '2026-01-01T00:15:00Z' },
        { event: 'airflow.dag_run.failed', resource: { id: 'airflow.dag.sales' }, occurred: '2026-01-01T00:20:00Z' },
      ]),
    });
  });
  after(async () => {
    await files?.remove();
    await proxy?.close();
    await harness?.close();
  });

  test('apply --dry-run prints the plan and calls no PUT', async () => {
    const result = await cli('apply', '-f', files.path('automations'), '--dry-run');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^created +cli-dag-failures +.*automations\/failures\.json$/m);
    assert.match(result.stdout, /^created +cli-worker-heartbeat +.*heartbeat\.json\[0\]$/m);
    assert.match(result.stdout, /^dry run: 2 to create, 0 to change, 0 unchanged; nothing was applied$/m);
    assert.equal(proxy.requests.filter((request) => request.method !== 'GET').length, 0, 'only reads');
    assert.deepEqual(await stored(), []);
  });

  test('apply creates, then reports unchanged, then shows a field diff and changes', async () => {
    const created = await cli('apply', '-f', files.path('automations'));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^applied: 2 created, 0 changed, 0 unchanged$/m);
    assert.deepEqual((await stored()).map((automation) => automation.name).sort(), ['cli-dag-failures', 'cli-worker-heartbeat']);

    const again = await cli('apply', '-f', files.path('automations'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^unchanged +cli-dag-failures/m);
    assert.match(again.stdout, /^nothing to apply: 0 to create, 0 to change, 2 unchanged$/m);

    await writeFile(files.path('automations/failures.json'), JSON.stringify({ ...failures, description: 'changed', trigger: { ...failures.trigger, within: '2h' } }));
    const putsBefore = proxy.requests.filter((request) => request.method === 'PUT').length;
    const changed = await cli('apply', '-f', files.path('automations'));
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /^changed +cli-dag-failures/m);
    assert.match(changed.stdout, /^ +~ description: "three failures of a DAG in an hour" → "changed"$/m);
    assert.match(changed.stdout, /^ +~ trigger\.within: "1h" → "2h"$/m);
    assert.match(changed.stdout, /^applied: 0 created, 1 changed, 1 unchanged$/m);
    assert.equal(proxy.requests.filter((request) => request.method === 'PUT').length - putsBefore, 1, 'only the changed automation is written');
    assert.equal((await stored()).find((automation) => automation.name === 'cli-dag-failures')?.trigger.within, '2h');
  });

  test('apply --prune deletes what the files do not define (shown first with --dry-run)', async () => {
    const plan = await cli('apply', '-f', files.path('automations/failures.json'), '--prune', '--dry-run');
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^deleted +cli-worker-heartbeat +\(not in the files: --prune\)$/m);
    assert.equal((await stored()).length, 2, 'a dry run deletes nothing');

    const pruned = await cli('apply', '-f', files.path('automations/failures.json'), '--prune', '--json');
    assert.equal(pruned.code, 0, pruned.stderr);
    const outcome = JSON.parse(pruned.stdout) as { applied: boolean; results: Array<{ name: string; action: string }> };
    assert.deepEqual(outcome.results, [{ name: 'cli-worker-heartbeat', action: 'deleted' }]);
    assert.deepEqual((await stored()).map((automation) => automation.name), ['cli-dag-failures']);
    const restored = await cli('apply', '-f', files.path('automations'));
    assert.equal(restored.code, 0, restored.stderr);
  });

  test('a write the server refuses stops apply: exit 3, one line with the server\'s message and what was applied before', async () => {
    const failing = await startFaultProxy(harness.url, (request) =>
      request.method === 'PUT' && request.path.endsWith('/cli-z-second')
        ? { answer: { status: 500, body: JSON.stringify({ error: 'internal', message: 'internal error; the details are in the server log' }) } }
        : { forward: true },
    );
    const extra = await tempFiles({
      'a.json': JSON.stringify({ ...failures, name: 'cli-y-first' }),
      'b.json': JSON.stringify({ ...failures, name: 'cli-z-second' }),
    });
    try {
      const result = await runCli(['apply', '-f', extra.dir], { env: { ...env, VIGIL_URL: failing.url } });
      assert.equal(result.code, 3);
      assert.equal(result.stderr, 'vigil: cannot apply cli-z-second: internal error; the details are in the server log [500 internal] (1 change was applied before it)\n');
      const names = (await stored()).map((automation) => automation.name);
      assert.ok(names.includes('cli-y-first') && !names.includes('cli-z-second'));
      const cleanup = await cli('apply', '-f', files.path('automations'), '--prune');
      assert.equal(cleanup.code, 0, cleanup.stderr);
    } finally {
      await extra.remove();
      await failing.close();
    }
  });

  test('automations list prints a table: name, enabled, trigger type, actions, updated', async () => {
    const result = await cli('automations', 'list');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME +ENABLED +TRIGGER +ACTIONS +UPDATED$/);
    assert.match(lines[1]!, /^cli-dag-failures +yes +event\/reactive +0 +\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    assert.match(lines[2]!, /^cli-worker-heartbeat +yes +event\/proactive +1 +\d{4}-/);
  });

  test('automations test: a dry run with events from a file, as text and as JSON; unknown names exit 1', async () => {
    const result = await cli('automations', 'test', 'cli-dag-failures', '-f', files.path('events.json'));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^cli-dag-failures would have fired 1 time$/m);
    assert.match(result.stdout, /^3 of 4 events matched the trigger$/m);

    const json = await cli('automations', 'test', 'cli-dag-failures', '-f', files.path('events.json'), '--json');
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { fired: number; explanations: unknown[] };
    assert.equal(parsed.fired, 1);
    assert.equal(parsed.explanations.length, 4);

    const history = await cli('automations', 'test', 'cli-dag-failures', '--since', '2026-01-01T00:00:00Z', '--until', '2026-01-02T00:00:00Z');
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /would have fired 0 times/);

    const unsaved = await cli('automations', 'test', 'cli-dag-failures', '-f', files.path('events.json'), '--definition', files.path('unsaved.json'));
    assert.equal(unsaved.code, 0, unsaved.stderr);
    assert.match(unsaved.stdout, /^cli-dag-failures would have fired 0 times$/m, 'the local definition (threshold 4) is tested, not the stored one');

    const invalidDefinition = await cli('automations', 'test', 'cli-dag-failures', '-f', files.path('events.json'), '--definition', files.path('invalid.json'));
    assert.equal(invalidDefinition.code, 1);
    assert.match(invalidDefinition.stderr, /invalid\.json \(cli-dag-failures\): trigger\.threshold: /);

    const unknown = await cli('automations', 'test', 'no-such-automation', '-f', files.path('events.json'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^vigil: .*\[404 [a-z_]+\]\n$/);

    const usage = await cli('automations', 'test', 'cli-dag-failures');
    assert.equal(usage.code, 2);
  });
});
