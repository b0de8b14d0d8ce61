import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { header, jsonBody } from '../stand-ins/http-stand-in.ts';
import { startAirflowStandIn, type AirflowStandIn } from '../stand-ins/airflow.ts';
import { startPrefectStandIn, type PrefectStandIn } from '../stand-ins/prefect.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, startActionsHarness, type ActionsHarness } from './harness.ts';

describe('orchestrator actions', () => {
  let harness: ActionsHarness;
  let prefect: PrefectStandIn;
  let airflow1: AirflowStandIn;
  let airflow2: AirflowStandIn;

  before(async () => {
    harness = await startActionsHarness();
    prefect = await startPrefectStandIn({ apiKey: 'pnu_test_key' });
    airflow1 = await startAirflowStandIn(1);
    airflow2 = await startAirflowStandIn(2);
    await harness.connections.upsert('prefect', { kind: 'prefect', api_url: prefect.apiUrl, api_key: 'pnu_test_key' });
    await harness.connections.upsert('prefect-bad-key', { kind: 'prefect', api_url: prefect.apiUrl, api_key: 'pnu_wrong' });
    await harness.connections.upsert('airflow2x', { kind: 'airflow', base_url: airflow1.baseUrl, api_version: 1, username: airflow1.username, password: airflow1.password });
    await harness.connections.upsert('airflow3x', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 2, username: airflow2.username, password: airflow2.password });
    await harness.connections.upsert('airflow3x-bad', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 2, username: airflow2.username, password: 'wrong' });
  });
  after(async () => {
    await harness.close();
    await Promise.all([prefect.close(), airflow1.close(), airflow2.close()]);
  });

  describe('Prefect', () => {
    test('run-deployment creates a flow run with templated parameters and the run id as idempotency key', async () => {
      prefect.failNext(1, { status: 500, path: /create_flow_run$/ });
      const id = await harness.fire({
        kind: 'run-deployment',
        connection: 'prefect',
        deployment: prefect.deploymentId,
        parameters: { table: '{{ event.resource.name }}', reason: 'sla {{ automation.name }}', full_refresh: true },
        run_name: 'vigil-{{ automation.name }}',
        tags: ['vigil'],
        retry: fastRetry,
      });
      const run = await harness.waitForRun(id, 'succeeded');
      assert.equal(run.attempts, 2);
      const creates = prefect.requests.filter((request) => request.path.endsWith('/create_flow_run'));
      assert.equal(creates.length, 2);
      assert.ok(creates.every((request) => (jsonBody(request) as { idempotency_key: string }).idempotency_key === id));
      assert.equal(header(creates[1]!, 'authorization'), 'Bearer pnu_test_key');
      assert.equal(prefect.flowRuns.length, 1);
      assert.deepEqual(prefect.flowRuns[0]!.parameters, { table: 'sales_refresh', reason: 'sla sales-sla', full_refresh: true });
      assert.equal(prefect.flowRuns[0]!.name, 'vigil-sales-sla');
      assert.equal((run.result as { flow_run_id: string }).flow_run_id, prefect.flowRuns[0]!.id);
    });

    test('a deployment can be named "flow/deployment"', async () => {
      const id = await harness.fire({ kind: 'run-deployment', connection: 'prefect', deployment: 'sales-refresh/prod', retry: fastRetry });
      await harness.waitForRun(id, 'succeeded');
      assert.equal(prefect.flowRuns.at(-1)!.idempotency_key, id);
    });

    test('pause-schedule / resume-schedule and pause-work-queue / resume-work-queue', async () => {
      const pause = await harness.fire({ kind: 'pause-schedule', connection: 'prefect', deployment: prefect.deploymentId, retry: fastRetry });
      await harness.waitForRun(pause, 'succeeded');
      assert.equal(prefect.deploymentPaused(), true);
      const resume = await harness.fire({ kind: 'resume-schedule', connection: 'prefect', deployment: prefect.deploymentId, retry: fastRetry });
      await harness.waitForRun(resume, 'succeeded');
      assert.equal(prefect.deploymentPaused(), false);

      const pauseQueue = await harness.fire({ kind: 'pause-work-queue', connection: 'prefect', work_queue: prefect.workQueueId, retry: fastRetry });
      assert.equal((await harness.waitForRun(pauseQueue, 'succeeded')).response_status, 204);
      assert.equal(prefect.workQueuePaused(), true);
      const resumeQueue = await harness.fire({ kind: 'resume-work-queue', connection: 'prefect', work_queue: prefect.workQueueId, retry: fastRetry });
      await harness.waitForRun(resumeQueue, 'succeeded');
      assert.equal(prefect.workQueuePaused(), false);
    });

    test('a wrong API key (401) and an unknown deployment (404) fail without retries', async () => {
      const unauthorized = await harness.fire({ kind: 'run-deployment', connection: 'prefect-bad-key', deployment: prefect.deploymentId, retry: fastRetry });
      const failed = await harness.waitForRun(unauthorized, 'failed');
      assert.equal(failed.attempts, 1);
      assert.equal(failed.response_status, 401);
      const unknown = await harness.fire({ kind: 'run-deployment', connection: 'prefect', deployment: '00000000-0000-4000-8000-000000000000', retry: fastRetry });
      assert.match((await harness.waitForRun(unknown, 'failed')).error ?? '', /404.*Deployment not found/);
    });
  });

  for (const version of [1, 2] as const) {
    describe(`Airflow REST API v${version}`, () => {
      const stand = () => (version === 1 ? airflow1 : airflow2);
      const connection = version === 1 ? 'airflow2x' : 'airflow3x';

      test('run-deployment triggers a DAG run with conf; a repeated attempt (409) counts as done', async () => {
        const airflow = stand();
        airflow.failNext(1, { status: 503, retryAfter: '0', path: /dagRuns$/ });
        const id = await harness.fire({
          kind: 'run-deployment',
          connection,
          deployment: 'sales_refresh',
          parameters: { table: '{{ event.resource.name }}' },
          run_name: 'triggered by {{ automation.name }}',
          retry: fastRetry,
        });
        const run = await harness.waitForRun(id, 'succeeded');
        assert.equal(run.attempts, 2);
        const dagRun = airflow.dagRuns.find((candidate) => candidate.dag_run_id === `vigil__${id}`);
        assert.ok(dagRun, 'DAG run created');
        assert.deepEqual(dagRun.conf, { table: 'sales_refresh' });
        assert.equal(dagRun.note, 'triggered by sales-sla');
        const posts = airflow.requests.filter((request) => request.path.endsWith('/dagRuns'));
        const last = posts.at(-1)!;
        if (version === 1) {
          assert.equal(last.path, '/api/v1/dags/sales_refresh/dagRuns');
          assert.equal(header(last, 'authorization'), `Basic ${Buffer.from(`${airflow.username}:${airflow.password}`).toString('base64')}`);
        } else {
          assert.equal(last.path, '/api/v2/dags/sales_refresh/dagRuns');
          assert.match(header(last, 'authorization') ?? '', /^Bearer ey/);
          assert.equal((jsonBody(last) as { logical_date: unknown }).logical_date, null);
        }

      });

      test('an attempt that timed out after Airflow created the run: the retry gets 409 and the action is done', async () => {
        const airflow = stand();
        const hold = airflow.hold(/dagRuns$/);
        const id = await harness.fire({ kind: 'run-deployment', connection, deployment: 'sales_refresh', timeout: '300ms', retry: fastRetry });
        await hold.held;
        await waitFor('the retry to arrive', () => airflow.requests.filter((request) => request.path.endsWith('/dagRuns') && (jsonBody(request) as { dag_run_id?: string }).dag_run_id === `vigil__${id}`).length >= 2);
        hold.release();
        const run = await harness.waitForRun(id, 'succeeded');
        assert.equal(airflow.dagRuns.filter((candidate) => candidate.dag_run_id === `vigil__${id}`).length, 1);
        assert.ok(run.response_status === 409 || run.response_status === 200);
      });

      test('pause-schedule / resume-schedule pause and unpause the DAG', async () => {
        const airflow = stand();
        const pause = await harness.fire({ kind: 'pause-schedule', connection, deployment: 'sales_refresh', retry: fastRetry });
        await harness.waitForRun(pause, 'succeeded');
        assert.equal(airflow.dags.get('sales_refresh')!.is_paused, true);
        const patch = airflow.requests.filter((request) => request.method === 'PATCH').at(-1)!;
        assert.equal(patch.query.get('update_mask'), 'is_paused');
        const resume = await harness.fire({ kind: 'resume-schedule', connection, deployment: 'sales_refresh', retry: fastRetry });
        await harness.waitForRun(resume, 'succeeded');
        assert.equal(airflow.dags.get('sales_refresh')!.is_paused, false);
      });

      test('pause-work-queue sets the pool to 0 slots; resume restores the given slots; resume without slots fails', async () => {
        const airflow = stand();
        const pause = await harness.fire({ kind: 'pause-work-queue', connection, work_queue: 'default_pool', retry: fastRetry });
        await harness.waitForRun(pause, 'succeeded');
        assert.equal(airflow.pools.get('default_pool')!.slots, 0);
        const resume = await harness.fire({ kind: 'resume-work-queue', connection, work_queue: 'default_pool', slots: 64, retry: fastRetry });
        await harness.waitForRun(resume, 'succeeded');
        assert.equal(airflow.pools.get('default_pool')!.slots, 64);
        const noSlots = await harness.fire({ kind: 'resume-work-queue', connection, work_queue: 'default_pool', retry: fastRetry });
        assert.match((await harness.waitForRun(noSlots, 'failed')).error ?? '', /needs `slots`/);
      });

      test('an unknown DAG fails at once (404)', async () => {
        const id = await harness.fire({ kind: 'run-deployment', connection, deployment: 'no_such_dag', retry: fastRetry });
        const failed = await harness.waitForRun(id, 'failed');
        assert.equal(failed.attempts, 1);
        assert.equal(failed.response_status, 404);
      });
    });
  }

  test('Airflow 3: an expired token is renewed once through /auth/token; bad credentials fail', async () => {
    const issued = airflow2.tokensIssued();
    airflow2.expireTokens();
    const id = await harness.fire({ kind: 'pause-schedule', connection: 'airflow3x', deployment: 'sales_refresh', retry: fastRetry });
    const run = await harness.waitForRun(id, 'succeeded');
    assert.equal(run.attempts, 1);
    assert.equal(airflow2.tokensIssued(), issued + 1);

    const bad = await harness.fire({ kind: 'pause-schedule', connection: 'airflow3x-bad', deployment: 'sales_refresh', retry: fastRetry });
    const failed = await harness.waitForRun(bad, 'failed');
    assert.match(failed.error ?? '', /auth\/token answered HTTP 401/);
  });
});
