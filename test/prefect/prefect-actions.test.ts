import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHttpStandIn, type HttpStandIn } from '../stand-ins/http-stand-in.ts';
import { startPrefectServer, type PrefectDeployment, type PrefectServer } from '../support/prefect-server.ts';
import { fastRetry, firingContext, startActionsHarness, type ActionsHarness } from '../actions/harness.ts';

/*
 * Every Prefect action against a real Prefect 3 server (pinned in scripts/python/prefect.txt),
 * started once for this file: deployments by id and by "flow/deployment", typed parameters
 * validated by Prefect against the deployment's schema, work queues by id and by "pool/queue",
 * the whole deployment and one of its two schedules.
 */
describe('Prefect actions against a real Prefect server', () => {
  let prefect: PrefectServer;
  let harness: ActionsHarness;
  let deployment: PrefectDeployment;
  let proxyPage: HttpStandIn;

  before(async () => {
    [prefect, harness, proxyPage] = await Promise.all([
      startPrefectServer(),
      startActionsHarness(),
      // A misconfigured address: a web server (or a sign-in proxy) answering 200 with a page for every path.
      startHttpStandIn(() => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<!doctype html><title>Sign in</title>' })),
    ]);
    console.log(`# prefect server healthy after ${prefect.startedInMs} ms`);
    await harness.connections.upsert('prefect', { kind: 'prefect', api_url: prefect.apiUrl, auth_string: prefect.authString });
    await harness.connections.upsert('prefect-wrong-auth', { kind: 'prefect', api_url: prefect.apiUrl, auth_string: 'vigil:wrong' });
    await harness.connections.upsert('prefect-not-api', { kind: 'prefect', api_url: `${proxyPage.url}/api`, auth_string: prefect.authString });
    await prefect.createWorkPool('etl');
    await prefect.createWorkQueue('etl', 'critical');
    deployment = await prefect.createDeployment({
      flow: 'publish-reports',
      name: 'daily',
      workPool: 'etl',
      parameterSchema: {
        type: 'object',
        properties: { n: { type: 'integer' }, full_refresh: { type: 'boolean' }, options: { type: 'object' }, table: { type: 'string' } },
        required: ['n'],
      },
      schedules: [
        { schedule: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' }, slug: 'weekday-morning' },
        { schedule: { interval: 3600 }, slug: 'hourly' },
      ],
    });
  });
  after(async () => {
    await harness?.close();
    await prefect?.close();
    await proxyPage?.close();
  });

  const context = () =>
    firingContext({ event: { payload: { n: 7, full_refresh: true, options: { region: 'eu', tables: ['a', 'b'] } } } });

  test('run-deployment by "flow/deployment" with integer, boolean and object parameters from typed templates', async () => {
    const id = await harness.fire(
      {
        kind: 'run-deployment',
        connection: 'prefect',
        deployment: 'publish-reports/daily',
        parameters: { n: '{{ event.payload.n }}', full_refresh: '{{ event.payload.full_refresh }}', options: '{{ event.payload.options }}', table: 'sales_{{ event.payload.n }}' },
        run_name: 'vigil-{{ automation.name }}',
        tags: ['vigil', 'env:{{ event.resource.env }}'],
        retry: fastRetry,
      },
      { context: context() },
    );
    const run = await harness.waitForRun(id, 'succeeded');
    const flowRuns = await prefect.flowRuns(deployment.id);
    const flowRun = flowRuns.find((candidate) => candidate.idempotency_key === id);
    assert.ok(flowRun, 'the flow run exists in Prefect');
    assert.deepEqual(flowRun.parameters, { n: 7, full_refresh: true, options: { region: 'eu', tables: ['a', 'b'] }, table: 'sales_7' });
    assert.equal(flowRun.name, 'vigil-sales-sla');
    assert.deepEqual([...flowRun.tags].sort(), ['env:prod', 'vigil']);
    assert.equal((run.result as { flow_run_id: string }).flow_run_id, flowRun.id);
  });

  test('run-deployment by id; a repeated attempt with the same idempotency key makes no second flow run', async () => {
    const action = { kind: 'run-deployment' as const, connection: 'prefect', deployment: deployment.id, parameters: { n: 1 }, retry: fastRetry };
    const id = await harness.fire(action);
    await harness.waitForRun(id, 'succeeded');
    // What a retry after a lost answer sends: the same key again, straight to the API.
    const again = await prefect.api<{ id: string }>('POST', `/deployments/${deployment.id}/create_flow_run`, { parameters: { n: 1 }, idempotency_key: id });
    const runs = (await prefect.flowRuns(deployment.id)).filter((candidate) => candidate.idempotency_key === id);
    assert.equal(runs.length, 1);
    assert.equal(again.id, runs[0]!.id);
  });

  test('a parameter of the wrong type is refused by Prefect (409) and fails without retries', async () => {
    const id = await harness.fire({ kind: 'run-deployment', connection: 'prefect', deployment: deployment.id, parameters: { n: 'seven' }, retry: fastRetry });
    const failed = await harness.waitForRun(id, 'failed');
    assert.equal(failed.attempts, 1);
    assert.equal(failed.response_status, 409);
    assert.match(failed.error ?? '', /'seven' is not of type 'integer'/);
  });

  test('pause-schedule / resume-schedule: the whole deployment, and one of its two schedules by slug or id', async () => {
    const pause = await harness.fire({ kind: 'pause-schedule', connection: 'prefect', deployment: 'publish-reports/daily', retry: fastRetry });
    await harness.waitForRun(pause, 'succeeded');
    assert.equal((await prefect.readDeployment(deployment.id)).paused, true);
    const resume = await harness.fire({ kind: 'resume-schedule', connection: 'prefect', deployment: deployment.id, retry: fastRetry });
    await harness.waitForRun(resume, 'succeeded');
    assert.equal((await prefect.readDeployment(deployment.id)).paused, false);

    const activeOf = async (): Promise<Record<string, boolean>> =>
      Object.fromEntries((await prefect.readDeployment(deployment.id)).schedules.map((schedule) => [schedule.slug ?? schedule.id, schedule.active] as const));
    const pauseOne = await harness.fire({ kind: 'pause-schedule', connection: 'prefect', deployment: 'publish-reports/daily', schedule: 'hourly', retry: fastRetry });
    await harness.waitForRun(pauseOne, 'succeeded');
    assert.deepEqual(await activeOf(), { hourly: false, 'weekday-morning': true });
    assert.equal((await prefect.readDeployment(deployment.id)).paused, false);
    const hourlyId = deployment.schedules.find((schedule) => schedule.slug === 'hourly')!.id;
    const resumeOne = await harness.fire({ kind: 'resume-schedule', connection: 'prefect', deployment: deployment.id, schedule: hourlyId, retry: fastRetry });
    await harness.waitForRun(resumeOne, 'succeeded');
    assert.deepEqual(await activeOf(), { hourly: true, 'weekday-morning': true });

    const unknown = await harness.fire({ kind: 'pause-schedule', connection: 'prefect', deployment: deployment.id, schedule: 'nightly', retry: fastRetry });
    assert.match((await harness.waitForRun(unknown, 'failed')).error ?? '', /has no schedule "nightly" \(its schedules: .*hourly/);
  });

  test('pause-work-queue / resume-work-queue by "pool/queue" and by id', async () => {
    const pause = await harness.fire({ kind: 'pause-work-queue', connection: 'prefect', work_queue: 'etl/critical', retry: fastRetry });
    assert.equal((await harness.waitForRun(pause, 'succeeded')).response_status, 204);
    const queue = await prefect.readWorkQueue('etl', 'critical');
    assert.equal(queue.is_paused, true);
    const resume = await harness.fire({ kind: 'resume-work-queue', connection: 'prefect', work_queue: queue.id, retry: fastRetry });
    await harness.waitForRun(resume, 'succeeded');
    assert.equal((await prefect.readWorkQueue('etl', 'critical')).is_paused, false);
    const missing = await harness.fire({ kind: 'pause-work-queue', connection: 'prefect', work_queue: 'etl/no-such-queue', retry: fastRetry });
    const failed = await harness.waitForRun(missing, 'failed');
    assert.equal(failed.response_status, 404);
  });

  test('wrong credentials (401) and an unknown deployment (404) fail without retries', async () => {
    const unauthorized = await harness.fire({ kind: 'run-deployment', connection: 'prefect-wrong-auth', deployment: deployment.id, parameters: { n: 1 }, retry: fastRetry });
    const failed = await harness.waitForRun(unauthorized, 'failed');
    assert.equal(failed.attempts, 1);
    assert.equal(failed.response_status, 401);
    const unknown = await harness.fire({ kind: 'run-deployment', connection: 'prefect', deployment: 'publish-reports/weekly', retry: fastRetry });
    assert.match((await harness.waitForRun(unknown, 'failed')).error ?? '', /404/);
  });

  test('a 2xx that is not Prefect\'s answer fails with a hint at api_url', async () => {
    for (const action of [
      { kind: 'pause-schedule' as const, connection: 'prefect-not-api', deployment: 'publish-reports/daily', retry: fastRetry },
      { kind: 'run-deployment' as const, connection: 'prefect-not-api', deployment: deployment.id, retry: fastRetry },
      { kind: 'pause-work-queue' as const, connection: 'prefect-not-api', work_queue: 'etl/critical', retry: fastRetry },
    ]) {
      const failed = await harness.waitForRun(await harness.fire(action), 'failed');
      assert.equal(failed.attempts, 1);
      assert.match(failed.error ?? '', /answered HTTP 200 without .*not Prefect's API; the connection's api_url must be the API base/);
    }
  });
});
