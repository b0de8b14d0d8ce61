/**
 * The data-stack integrations against the real tools, installed from PyPI into cached virtual
 * environments (scripts/python-env.sh): Apache Airflow 3 with its OpenLineage provider and Vigil's
 * listener plugin (`airflow dags test`), dbt-core with dbt-duckdb (`dbt build`, `dbt source
 * freshness`, `vigil-dbt`), Prefect 3 (a flow wrapped in `vigil.monitor`), and the Python
 * package's own tests — all sending to a real Vigil
 * (embedded mode, its own process). Then every automation in examples/ is dry-run over the events
 * these tools produced and must fire as its description says, the README's deadline included.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pythonEnvWithVigil, runCommand } from '../support/python-tools.ts';
import { startVigilProcess, type VigilProcess } from '../support/vigil-process.ts';
import { waitFor } from '../support/wait-for.ts';

interface StoredEvent {
  id: string;
  occurred: string;
  event: string;
  resource: Record<string, string> & { id: string };
  related: Record<string, string>[];
  payload: Record<string, unknown>;
  follows?: string | null;
}

interface DryRun {
  fired: number;
  resolved: number;
  firings: { state: string; at: string; for_each: Record<string, string>; resolved_by?: string }[];
}

const root = new URL('../../', import.meta.url).pathname;
const dagsFolder = join(root, 'test/integrations/airflow-dags');
const dbtProject = join(root, 'test/integrations/dbt-project');

describe('Airflow, dbt and Python scripts send the events the examples expect', () => {
  let vigil: VigilProcess;
  let work: string;
  let airflowEnv: string;
  let dbtEnv: string;
  let prefectEnv: string;
  const adminKey = `integrations-${randomBytes(16).toString('hex')}`;
  let writeKey: string;
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  const airflow: { provider: StoredEvent[]; plugin: StoredEvent[] } = { provider: [], plugin: [] };
  let dbt: StoredEvent[] = [];
  let checkIns: StoredEvent[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'vigil-integrations-'));
    [airflowEnv, dbtEnv, prefectEnv] = [await pythonEnvWithVigil('airflow'), await pythonEnvWithVigil('dbt'), await pythonEnvWithVigil('prefect')];
    vigil = await startVigilProcess({ VIGIL_DATA_DIR: join(work, 'vigil'), VIGIL_ADMIN_KEY: adminKey }, 7900 + Math.floor(Math.random() * 90));
    // The emitters get what the guides tell users to create: a key that may only write events.
    writeKey = (await api<{ secret: string }>('POST', '/api/keys', { name: 'data-stack', scopes: ['events:write'] })).secret;
  });

  after(async () => {
    await vigil?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${vigil.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };

  /** Every event in Vigil's history since the suite started, oldest first, once `done` says all arrived. */
  const history = async (done: (events: StoredEvent[]) => boolean): Promise<StoredEvent[]> =>
    waitFor('the events in Vigil', async () => {
      const events: StoredEvent[] = [];
      let cursor = '';
      do {
        const page = await api<{ events: StoredEvent[]; next?: string }>('GET', `/api/events?since=${encodeURIComponent(startedAt)}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        events.push(...page.events);
        cursor = page.next ?? '';
      } while (cursor);
      const sorted = events.sort((a, b) => a.occurred.localeCompare(b.occurred) || a.id.localeCompare(b.id));
      return done(sorted) && sorted;
    }, 30_000, 200);

  test("the Python package installs with pip and its tests pass against this Vigil", async () => {
    const result = await runCommand(`${airflowEnv}/bin/python`, ['-m', 'unittest', 'discover', '-s', 'sdk/python/tests', '-t', 'sdk/python'], {
      VIGIL_TEST_URL: vigil.url,
      VIGIL_TEST_API_KEY: adminKey,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Ran \d+ tests[\s\S]*\nOK\s*$/);
  });

  test('airflow dags test, through the OpenLineage provider and through the Vigil plugin: the same Airflow events', async () => {
    const airflowHome = join(work, 'airflow');
    const env = {
      AIRFLOW_HOME: airflowHome,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_FOLDER: dagsFolder,
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING',
      // The provider: configuration only, as docs/guides/integrations/airflow.md says.
      AIRFLOW__OPENLINEAGE__NAMESPACE: 'prod',
      AIRFLOW__OPENLINEAGE__TRANSPORT: JSON.stringify({ type: 'http', url: vigil.url, endpoint: 'api/v1/lineage', auth: { type: 'api_key', apiKey: writeKey } }),
      // The plugin (entry point of the installed vigil-client): active with a key.
      VIGIL_URL: vigil.url,
      VIGIL_API_KEY: writeKey,
    };
    const migrate = await runCommand(`${airflowEnv}/bin/airflow`, ['db', 'migrate'], env);
    assert.equal(migrate.code, 0, migrate.stderr);
    const runs: [string, string, number][] = [
      ['sales_refresh', '2026-12-01', 0],
      ['ingest_orders', '2026-12-02', 1],
    ];
    for (const [dag, date, code] of runs) {
      const run = await runCommand(`${airflowEnv}/bin/airflow`, ['dags', 'test', dag, date], env);
      assert.equal(run.code, code, `${dag} ${date}: ${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
    }

    const fromProvider = (event: StoredEvent) => typeof event.payload.producer === 'string' && event.payload.producer.startsWith('https://github.com/apache/airflow/');
    const fromPlugin = (event: StoredEvent) => event.payload.emitter === 'vigil.airflow_plugin';
    const events = await history((all) => all.filter(fromProvider).length >= 8 && all.filter(fromPlugin).length >= 8);
    airflow.provider = events.filter(fromProvider);
    airflow.plugin = events.filter(fromPlugin);

    const expected = [
      'airflow.dag_run.failed airflow.dag.ingest_orders x1',
      'airflow.dag_run.success airflow.dag.sales_refresh x1',
      'airflow.task.failed airflow.task.ingest_orders.fetch_orders x1',
      'airflow.task.started airflow.task.ingest_orders.fetch_orders x1',
      'airflow.task.started airflow.task.sales_refresh.extract x1',
      'airflow.task.started airflow.task.sales_refresh.load x1',
      'airflow.task.success airflow.task.sales_refresh.extract x1',
      'airflow.task.success airflow.task.sales_refresh.load x1',
    ];
    const tally = (list: StoredEvent[]) => {
      const counts = new Map<string, number>();
      for (const event of list) counts.set(`${event.event} ${event.resource.id}`, (counts.get(`${event.event} ${event.resource.id}`) ?? 0) + 1);
      return [...counts].map(([key, count]) => `${key} x${count}`).sort();
    };
    assert.deepEqual(tally(airflow.provider), expected, 'no DAG-level start: airflow dags test sends none');
    assert.deepEqual(tally(airflow.plugin), expected);

    // Same names, the same labels and related resources, event by event, whichever way they came.
    const comparable = (event: StoredEvent) => JSON.stringify([event.event, event.resource, event.related]);
    assert.deepEqual(airflow.plugin.map(comparable).sort(), airflow.provider.map(comparable).sort());

    const dagRuns = airflow.provider.filter((event) => event.event.startsWith('airflow.dag_run.'));
    assert.deepEqual(dagRuns.map((event) => event.resource.logical_date).sort(), ['2026-12-01T00:00:00+00:00', '2026-12-02T00:00:00+00:00']);
    for (const event of dagRuns) {
      assert.deepEqual(Object.keys(event.resource).sort(), ['dag_id', 'id', 'logical_date', 'namespace', 'run_id', 'run_type']);
      assert.match(event.resource.run_id!, /^manual__2026-/, "Airflow's own run id");
      assert.equal(event.resource.run_type, 'manual');
      assert.equal(event.resource.namespace, 'prod');
      assert.equal(event.payload.eventType, event.event === 'airflow.dag_run.failed' ? 'FAIL' : 'COMPLETE', 'the whole RunEvent is the payload');
    }
    const taskFailure = airflow.provider.find((event) => event.event === 'airflow.task.failed')!;
    assert.deepEqual(Object.keys(taskFailure.resource).sort(), ['dag_id', 'id', 'namespace', 'run_id', 'task_id', 'try_number']);
    assert.equal(taskFailure.resource.try_number, '1');
    assert.deepEqual(taskFailure.related, [{ id: 'airflow.dag.ingest_orders', role: 'dag' }]);
    const pluginFailure = airflow.plugin.find((event) => event.event === 'airflow.task.failed')!;
    assert.deepEqual([pluginFailure.payload.error_type, pluginFailure.payload.error_message], ['RuntimeError', 'orders file missing']);
  });

  test('a wrong key (provider) and an unreachable Vigil (plugin) fail no task: warnings in the task log only', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const env = {
      AIRFLOW_HOME: join(work, 'airflow'),
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__CORE__DAGS_FOLDER: dagsFolder,
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING',
      AIRFLOW__OPENLINEAGE__NAMESPACE: 'prod',
      AIRFLOW__OPENLINEAGE__TRANSPORT: JSON.stringify({ type: 'http', url: vigil.url, endpoint: 'api/v1/lineage', auth: { type: 'api_key', apiKey: 'not-a-key-of-this-vigil' } }),
      VIGIL_URL: `http://127.0.0.1:${closed}`,
      VIGIL_API_KEY: writeKey,
    };
    const run = await runCommand(`${airflowEnv}/bin/airflow`, ['dags', 'test', 'sales_refresh', '2026-12-03'], env);
    const output = run.stdout + run.stderr;
    assert.equal(run.code, 0, `the DAG run succeeded (dags test exits 1 on a failed run):\n${output.slice(-3000)}`);
    assert.match(output, /Failed to emit OpenLineage `COMPLETE` event[^\n]*401/);
    assert.match(output, /vigil: airflow\.task\.success not yet delivered to http:\/\/127\.0\.0\.1:\d+/);
  });

  test('dbt build, dbt source freshness and a failing build, reported by vigil-dbt', async () => {
    const env = { DBT_PROFILES_DIR: dbtProject, SHOP_DUCKDB_PATH: join(work, 'shop.duckdb'), DBT_SEND_ANONYMOUS_USAGE_STATS: 'false', VIGIL_URL: vigil.url, VIGIL_API_KEY: writeKey };
    const dbtCommand = `${dbtEnv}/bin/dbt`;
    const target = join(work, 'dbt-target');
    const build = await runCommand(dbtCommand, ['build', '--project-dir', dbtProject, '--target-path', target], env);
    assert.equal(build.code, 1, `one data test fails by design:\n${build.stdout}`);
    const freshness = await runCommand(dbtCommand, ['source', 'freshness', '--project-dir', dbtProject, '--target-path', target], env);
    assert.equal(freshness.code, 1, `one source is stale by design:\n${freshness.stdout}`);
    const sent = await runCommand(`${dbtEnv}/bin/vigil-dbt`, ['--target-path', target], env);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /sent 6 events/);

    const brokenTarget = join(work, 'dbt-target-broken');
    const broken = await runCommand(dbtCommand, ['build', '--select', 'sales', '--vars', '{break_sales: true}', '--project-dir', dbtProject, '--target-path', brokenTarget], env);
    assert.equal(broken.code, 1);
    const sentBroken = await runCommand(`${dbtEnv}/bin/python`, ['-m', 'vigil.dbt', '--target-path', brokenTarget], env);
    assert.equal(sentBroken.code, 0, sentBroken.stderr);

    const isDbt = (event: StoredEvent) => event.event.startsWith('dbt.') && event.resource.project === 'shop' && typeof event.resource.invocation_id === 'string';
    const fromThisRun = (event: StoredEvent) => isDbt(event) && event.occurred >= startedAt;
    dbt = (await history((all) => all.filter(fromThisRun).length >= 9)).filter(fromThisRun);
    assert.deepEqual(dbt.map((event) => `${event.event} ${event.resource.id}`).sort(), [
      'dbt.model.failed dbt.model.sales',
      'dbt.model.refreshed dbt.model.sales',
      'dbt.seed.refreshed dbt.seed.raw_orders',
      'dbt.source.fresh dbt.source.shop.orders_live',
      'dbt.source.stale dbt.source.shop.raw_orders',
      'dbt.test.failed dbt.test.accepted_values_sales_status__shipped',
      'dbt.test.passed dbt.test.not_null_sales_order_id',
      'dbt.test.skipped dbt.test.accepted_values_sales_status__shipped',
      'dbt.test.skipped dbt.test.not_null_sales_order_id',
    ]);
    const refreshed = dbt.find((event) => event.event === 'dbt.model.refreshed')!;
    assert.deepEqual(
      { ...refreshed.resource, invocation_id: 'x' },
      { id: 'dbt.model.sales', name: 'sales', unique_id: 'model.shop.sales', project: 'shop', database: 'shop', schema: 'main', materialization: 'table', tags: 'daily', status: 'success', invocation_id: 'x', command: 'build' },
    );
    assert.equal(dbt.find((event) => event.event === 'dbt.test.failed')!.payload.failures, 1);
    assert.deepEqual(dbt.find((event) => event.event === 'dbt.test.failed')!.related.map((related) => related.id), ['dbt.model.sales']);
  });

  test('Python check-ins from a script: monitor() reports started, succeeded and failed', async () => {
    const script = [
      'import vigil',
      'with vigil.monitor("cron.backup"):',
      '    pass',
      'try:',
      '    with vigil.monitor("cron.backup"):',
      '        raise OSError("disk full")',
      'except OSError:',
      '    pass',
    ].join('\n');
    const run = await runCommand(`${airflowEnv}/bin/python`, ['-c', script], { VIGIL_URL: vigil.url, VIGIL_API_KEY: writeKey });
    assert.equal(run.code, 0, run.stderr);
    checkIns = (await history((all) => all.filter((event) => event.resource.id === 'cron.backup').length >= 4)).filter((event) => event.resource.id === 'cron.backup');
    assert.deepEqual(checkIns.map((event) => event.event).sort(), ['check_in.failed', 'check_in.started', 'check_in.started', 'check_in.succeeded']);
    const failed = checkIns.find((event) => event.event === 'check_in.failed')!;
    assert.deepEqual([failed.payload.error_type, failed.payload.error_message], ['OSError', 'disk full']);
  });

  test('a Prefect flow wrapped in monitor(): one check-in per flow run, the failure with its exception', async () => {
    const run = await runCommand(`${prefectEnv}/bin/python`, [join(root, 'test/integrations/prefect_flow.py')], {
      PREFECT_HOME: join(work, 'prefect'),
      PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: '300',
      PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
      VIGIL_URL: vigil.url,
      VIGIL_API_KEY: writeKey,
    });
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    assert.match(run.stdout, /rows: 3\nthe failing run failed/);
    const flowRuns = (await history((all) => all.filter((event) => event.resource.id === 'prefect.ingest-orders').length >= 4)).filter((event) => event.resource.id === 'prefect.ingest-orders');
    assert.deepEqual(flowRuns.map((event) => event.event).sort(), ['check_in.failed', 'check_in.started', 'check_in.started', 'check_in.succeeded']);
    const failed = flowRuns.find((event) => event.event === 'check_in.failed')!;
    assert.deepEqual([failed.payload.error_type, failed.payload.error_message], ['RuntimeError', 'orders API down']);
    assert.equal(flowRuns.find((event) => event.event === 'check_in.started' && event.payload.check_in === failed.payload.check_in)?.event, 'check_in.started');
  });

  describe('every example fires on the real events as its description says (dry run)', () => {
    const examples = new Map<string, Record<string, unknown>>();
    before(async () => {
      const dir = join(root, 'examples');
      for (const file of await readdir(dir)) if (file.endsWith('.json')) examples.set(file, JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>);
    });

    /** A real event, placed at a chosen time (the scenario's clock); its id follows the time so each placement counts. */
    const at = (event: StoredEvent | undefined, occurred: string) => {
      assert.ok(event, 'the real tool produced this event');
      const { follows, received: _received, ...rest } = event as StoredEvent & { received?: string };
      return { ...rest, ...(follows ? { follows } : {}), id: `${event.id}@${occurred}`, occurred };
    };
    const dryRun = async (file: string, events: unknown[]): Promise<DryRun> => {
      const automation = examples.get(file);
      assert.ok(automation, `examples/${file} exists`);
      return api<DryRun>('POST', `/api/automations/${String(automation.name)}/test`, { automation, events });
    };
    const find = (list: StoredEvent[], name: string, resource: string) => list.find((event) => event.event === name && event.resource.id === resource);

    // failure-pauses-downstream.json (Prefect's own flow-run events) is proven against a real Prefect
    // server in test/prefect/prefect-event-source.test.ts.
    test('all examples are covered here', () => {
      assert.deepEqual([...examples.keys()].filter((file) => file !== 'failure-pauses-downstream.json').sort(), [
        'airflow-failure-pauses-prefect-schedule.json',
        'cron-heartbeat.json',
        'daily-deadline-sla.json',
        'dbt-test-failed.json',
        'task-started-not-finished.json',
        'three-failures-in-an-hour.json',
        'upstream-success-runs-deployment.json',
      ]);
    });

    // Tuesday 8 December 2026; Europe/Berlin is UTC+1: 07:00Z is 08:00 there, the deadline 09:00 is 08:00Z.
    test("the README's SLA (daily-deadline-sla.json): a dbt build or DAG run on time satisfies it, a failing one makes it fire, the late success resolves it", async () => {
      const refreshed = find(dbt, 'dbt.model.refreshed', 'dbt.model.sales');
      const failed = find(dbt, 'dbt.model.failed', 'dbt.model.sales');
      const dagSuccess = find(airflow.provider, 'airflow.dag_run.success', 'airflow.dag.sales_refresh');
      const dagFailed = find(airflow.provider, 'airflow.dag_run.failed', 'airflow.dag.ingest_orders');

      for (const onTime of [refreshed, dagSuccess, find(airflow.plugin, 'airflow.dag_run.success', 'airflow.dag.sales_refresh')]) {
        const result = await dryRun('daily-deadline-sla.json', [at(onTime, '2026-12-08T07:00:00.000Z')]);
        assert.equal(result.fired, 0, `${onTime?.event} at 08:00 Berlin satisfies the 09:00 deadline`);
      }
      for (const failing of [failed, dagFailed]) {
        const result = await dryRun('daily-deadline-sla.json', [at(failing, '2026-12-08T07:00:00.000Z')]);
        assert.equal(result.fired, 1, `${failing?.event} does not satisfy it`);
        assert.equal(result.firings[0]!.at, '2026-12-08T08:05:00.000Z', '09:00 Berlin plus 5 minutes of grace');
        assert.equal(result.firings[0]!.state, 'triggered');
      }
      const late = at(refreshed, '2026-12-08T08:47:00.000Z');
      const recovered = await dryRun('daily-deadline-sla.json', [at(failed, '2026-12-08T07:00:00.000Z'), late]);
      const [tuesday, ...later] = recovered.firings;
      assert.deepEqual([tuesday!.at, tuesday!.state, tuesday!.resolved_by], ['2026-12-08T08:05:00.000Z', 'resolved', late.id]);
      // The dry run's clock runs on to the next deadline: Wednesday's, with no event, is missed too.
      assert.deepEqual(later.map((firing) => firing.at), ['2026-12-09T08:05:00.000Z']);
    });

    test('three-failures-in-an-hour.json: the failed run, three times within an hour, fires once; twice does not', async () => {
      const failure = find(airflow.provider, 'airflow.dag_run.failed', 'airflow.dag.ingest_orders');
      const three = ['10:00', '10:20', '10:40'].map((time) => at(failure, `2026-12-08T${time}:00.000Z`));
      const fired = await dryRun('three-failures-in-an-hour.json', [...three, at(find(airflow.provider, 'airflow.dag_run.success', 'airflow.dag.sales_refresh'), '2026-12-08T10:05:00.000Z')]);
      assert.equal(fired.fired, 1);
      assert.deepEqual(fired.firings[0]!.for_each, { 'resource.id': 'airflow.dag.ingest_orders' });
      assert.equal((await dryRun('three-failures-in-an-hour.json', three.slice(0, 2))).fired, 0);
      assert.equal((await dryRun('three-failures-in-an-hour.json', [three[0], three[1], at(failure, '2026-12-08T11:05:00.000Z')])).fired, 0, 'not within the hour');
    });

    test('task-started-not-finished.json: the failed task fires (once per task), the tasks that succeeded do not — from either emitter', async () => {
      for (const events of [airflow.provider, airflow.plugin]) {
        const tasks = events.filter((event) => event.event.startsWith('airflow.task.'));
        const result = await dryRun('task-started-not-finished.json', tasks.map((event) => at(event, event.occurred)));
        assert.deepEqual(result.firings.map((firing) => firing.for_each), [{ 'resource.id': 'airflow.task.ingest_orders.fetch_orders' }]);
      }
    });

    test('airflow-failure-pauses-prefect-schedule.json fires on the failed ingest_orders run, not on the successful sales_refresh', async () => {
      assert.equal((await dryRun('airflow-failure-pauses-prefect-schedule.json', [at(find(airflow.plugin, 'airflow.dag_run.failed', 'airflow.dag.ingest_orders'), '2026-12-08T10:00:00.000Z')])).fired, 1);
      assert.equal((await dryRun('airflow-failure-pauses-prefect-schedule.json', [at(find(airflow.plugin, 'airflow.dag_run.success', 'airflow.dag.sales_refresh'), '2026-12-08T10:00:00.000Z')])).fired, 0);
    });

    test('upstream-success-runs-deployment.json fires on the successful sales_refresh run in namespace prod', async () => {
      assert.equal((await dryRun('upstream-success-runs-deployment.json', [at(find(airflow.provider, 'airflow.dag_run.success', 'airflow.dag.sales_refresh'), '2026-12-08T10:00:00.000Z')])).fired, 1);
      assert.equal((await dryRun('upstream-success-runs-deployment.json', [at(find(airflow.provider, 'airflow.dag_run.failed', 'airflow.dag.ingest_orders'), '2026-12-08T10:00:00.000Z')])).fired, 0);
    });

    test('dbt-test-failed.json fires on the failing dbt test, not on the passing one', async () => {
      const result = await dryRun('dbt-test-failed.json', [
        at(find(dbt, 'dbt.test.failed', 'dbt.test.accepted_values_sales_status__shipped'), '2026-12-08T10:00:00.000Z'),
        at(find(dbt, 'dbt.test.passed', 'dbt.test.not_null_sales_order_id'), '2026-12-08T10:00:01.000Z'),
      ]);
      assert.equal(result.fired, 1);
    });

    test('cron-heartbeat.json: successful check-ins every 15 minutes keep it quiet; 20 minutes without one fire it', async () => {
      const succeeded = checkIns.find((event) => event.event === 'check_in.succeeded');
      const failed = checkIns.find((event) => event.event === 'check_in.failed');
      const result = await dryRun('cron-heartbeat.json', [
        at(succeeded, '2026-12-08T10:00:00.000Z'),
        at(succeeded, '2026-12-08T10:15:00.000Z'),
        at(failed, '2026-12-08T10:30:00.000Z'),
      ]);
      assert.deepEqual(result.firings.map((firing) => firing.at), ['2026-12-08T10:35:00.000Z'], 'the failed check-in does not count');
    });
  });
});
