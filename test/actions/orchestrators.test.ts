import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { header, jsonBody } from '../stand-ins/http-stand-in.ts';
import { startAirflowStandIn, type AirflowStandIn } from '../stand-ins/airflow.ts';
import { waitFor } from '../support/wait-for.ts';
import { fastRetry, startActionsHarness, type ActionsHarness } from './harness.ts';

// Airflow against stand-ins that check requests as Airflow 2 and 3 do; Prefect runs against a real
// Prefect server in test/prefect/prefect-actions.test.ts.
describe('Airflow orchestrator actions', () => {
  let harness: ActionsHarness;
  let airflow1: AirflowStandIn;
  let airflow2: AirflowStandIn;

  before(async () => {
    harness = await startActionsHarness();
    airflow1 = await startAirflowStandIn(1);
    airflow2 = await startAirflowStandIn(2);
    await harness.connections.upsert('airflow2x', { kind: 'airflow', base_url: airflow1.baseUrl, api_version: 1, username: airflow1.username, password: airflow1.password });
    await harness.connections.upsert('airflow3x', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 2, username: airflow2.username, password: airflow2.password });
    await harness.connections.upsert('airflow3x-bad', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 2, username: airflow2.username, password: 'wrong' });
    // The wrong api_version for each server.
    await harness.connections.upsert('airflow2-as-v2', { kind: 'airflow', base_url: airflow1.baseUrl, api_version: 2, username: airflow1.username, password: airflow1.password });
    await harness.connections.upsert('airflow3-as-v1', { kind: 'airflow', base_url: airflow2.baseUrl, api_version: 1, username: airflow2.username, password: airflow2.password });
  });
  after(async () => {
    await harness.close();
    await Promise.all([airflow1.close(), airflow2.close()]);
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
          parameters: { table: '{{ event.resource.name }}', duration_s: '{{ event.payload.duration_s }}', payload: '{{ event.payload }}' },
          run_name: 'triggered by {{ automation.name }}',
          retry: fastRetry,
        });
        const run = await harness.waitForRun(id, 'succeeded');
        assert.equal(run.attempts, 2);
        const dagRun = airflow.dagRuns.find((candidate) => candidate.dag_run_id === `vigil__${id}`);
        assert.ok(dagRun, 'DAG run created');
        // Typed templates: the number and the object arrive as JSON, not as text.
        assert.deepEqual(dagRun.conf, { table: 'sales_refresh', duration_s: 812, payload: { duration_s: 812, owner: 'data-eng' } });
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

      test('an unknown DAG fails at once (404) and says so, not "wrong api_version"', async () => {
        const id = await harness.fire({ kind: 'run-deployment', connection, deployment: 'no_such_dag', retry: fastRetry });
        const failed = await harness.waitForRun(id, 'failed');
        assert.equal(failed.attempts, 1);
        assert.equal(failed.response_status, 404);
        assert.match(failed.error ?? '', /no_such_dag/);
        assert.doesNotMatch(failed.error ?? '', /api_version/);
      });

      test('a 2xx that is not Airflow\'s answer fails the action', async () => {
        const airflow = stand();
        airflow.failNext(1, { status: 200, path: /dagRuns$/, body: '<html><body>Welcome to nginx!</body></html>' });
        const id = await harness.fire({ kind: 'run-deployment', connection, deployment: 'sales_refresh', retry: fastRetry });
        const failed = await harness.waitForRun(id, 'failed');
        assert.equal(failed.attempts, 1);
        assert.match(failed.error ?? '', /answered HTTP 200 without the DAG run vigil__.*not Airflow's REST API/);
      });
    });
  }

  test('Airflow 3: a token rejected with 403 after the JWT secret rotated is dropped; one new login, then success', async () => {
    const warmUp = await harness.fire({ kind: 'pause-schedule', connection: 'airflow3x', deployment: 'sales_refresh', retry: fastRetry });
    await harness.waitForRun(warmUp, 'succeeded');
    const issued = airflow2.tokensIssued();
    airflow2.rotateJwtSecret();
    const id = await harness.fire({ kind: 'resume-schedule', connection: 'airflow3x', deployment: 'sales_refresh', retry: fastRetry });
    const run = await harness.waitForRun(id, 'succeeded');
    assert.equal(run.attempts, 1);
    assert.equal(airflow2.tokensIssued(), issued + 1);
    const patches = airflow2.requests.filter((request) => request.method === 'PATCH').slice(-2);
    assert.notEqual(header(patches[0]!, 'authorization'), header(patches[1]!, 'authorization'));
    // The next action uses the new token: no further login.
    const next = await harness.fire({ kind: 'pause-schedule', connection: 'airflow3x', deployment: 'sales_refresh', retry: fastRetry });
    await harness.waitForRun(next, 'succeeded');
    assert.equal(airflow2.tokensIssued(), issued + 1);
  });

  test('a wrong api_version names the likely cause (404 from /api/v1 or /api/v2, no /auth/token on Airflow 2)', async () => {
    const onAirflow3 = await harness.fire({ kind: 'pause-schedule', connection: 'airflow3-as-v1', deployment: 'sales_refresh', retry: fastRetry });
    const failed3 = await harness.waitForRun(onAirflow3, 'failed');
    assert.equal(failed3.attempts, 1);
    assert.match(failed3.error ?? '', /HTTP 404: .*\/api\/v1 has been removed in Airflow 3.*\/api\/v1 has no such endpoint\. Likely cause: the connection's api_version \(1\).*try 2/);
    const onAirflow2 = await harness.fire({ kind: 'run-deployment', connection: 'airflow2-as-v2', deployment: 'sales_refresh', retry: fastRetry });
    const failed2 = await harness.waitForRun(onAirflow2, 'failed');
    assert.equal(failed2.attempts, 1);
    assert.match(failed2.error ?? '', /auth\/token answered HTTP 404: .*Airflow 2 \(set the connection's api_version to 1\)/);
  });

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
