import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEventIntake } from '../../ingest/event-intake.ts';
import { startPrefectEventSources, type PrefectEventSources } from '../../ingest/prefect/prefect-event-sources.ts';
import type { PrefectSourceConfig } from '../../ingest/prefect/prefect-event-subscription.ts';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { startSlackStandIn, type SlackStandIn } from '../stand-ins/slack.ts';
import { kafkaBrokers } from '../support/kafka-admin.ts';
import { startPrefectServer, type PrefectDeployment, type PrefectServer } from '../support/prefect-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startVigilProcess, vigilApi } from '../support/vigil-process.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * Prefect's events as a source, against a real Prefect 3 server (started once for this file),
 * into a real Kafka event log through the intake, with the resume position in a real PostgreSQL
 * database: a failing flow run's events arrive with Prefect's names, labels, related resources
 * and ids; a source stopped and started again resumes without gaps or doubles; two processes
 * never both subscribe. And end to end: `vigil start` (embedded) with the connection marked as a
 * source and examples/failure-pauses-downstream.json applied pauses the downstream deployment in
 * Prefect and posts to Slack when the ingest flow run fails.
 */
describe('Prefect event source against a real Prefect server', () => {
  let prefect: PrefectServer;
  let database: TestDatabase;
  let log: EventLog;
  let deployment: PrefectDeployment;
  const started: PrefectEventSources[] = [];
  const metrics = createMetrics();

  before(async () => {
    [prefect, database, log] = await Promise.all([
      startPrefectServer(),
      createTestDatabase(),
      createKafkaEventLog({ brokers: kafkaBrokers, topic: `vigil.test.prefect.${randomBytes(4).toString('hex')}`, partitions: 3, clientId: 'vigil-test', requestTimeoutMs: 3_000 }),
    ]);
    console.log(`# prefect server healthy after ${prefect.startedInMs} ms`);
    deployment = await prefect.createDeployment({ flow: 'ingest-orders', name: 'hourly' });
  });
  after(async () => {
    for (const sources of started) await sources.close();
    await log?.close();
    await database?.drop();
    await prefect?.close();
  });

  const source = (): PrefectSourceConfig => ({ name: 'prefect-prod', apiUrl: prefect.apiUrl, authString: prefect.authString, events: ['prefect.flow-run.'] });

  async function startSources(owner: string): Promise<PrefectEventSources> {
    const sources = await startPrefectEventSources({
      db: database.db,
      intake: createEventIntake({ log, metrics }),
      listSources: () => Promise.resolve([source()]),
      owner,
      logger: createLogger(process.env.PREFECT_TEST_LOG ?? 'silent'),
      registry: metrics.registry,
      leaseMs: 3_000,
      // The test server's persister flushes every second.
      seamCheckMs: 2_500,
    });
    started.push(sources);
    return sources;
  }

  async function stop(sources: PrefectEventSources): Promise<void> {
    await sources.close();
    started.splice(started.indexOf(sources), 1);
  }

  /** A flow run of the deployment that runs and fails, as the engine reports it. */
  async function failingFlowRun(): Promise<string> {
    const flowRun = await prefect.api<{ id: string }>('POST', `/deployments/${deployment.id}/create_flow_run`, {});
    await prefect.setFlowRunState(flowRun.id, 'PENDING');
    await prefect.setFlowRunState(flowRun.id, 'RUNNING');
    await prefect.setFlowRunState(flowRun.id, 'FAILED', 'ingest failed: upstream API returned 500');
    return flowRun.id;
  }

  /** Prefect's own record of a flow run's events (its event persister writes them a few seconds after they stream). */
  async function prefectEventsOf(flowRunId: string): Promise<Array<{ id: string; event: string }>> {
    return waitFor(`Prefect to store the events of flow run ${flowRunId}`, async () => {
      const page = await prefect.api<{ events: Array<{ id: string; event: string }> }>('POST', '/events/filter', {
        filter: { occurred: { since: new Date(Date.now() - 3_600_000).toISOString() }, resource: { id: [`prefect.flow-run.${flowRunId}`] } },
        limit: 50,
      });
      return page.events.some((event) => event.event === 'prefect.flow-run.Failed') ? page.events : undefined;
    }, 30_000, 250);
  }

  async function logged(): Promise<VigilEvent[]> {
    const events: VigilEvent[] = [];
    for await (const record of log.readSince(new Date(Date.now() - 3_600_000))) events.push(record.event);
    return events;
  }

  async function waitForEvents(flowRunId: string, names: readonly string[]): Promise<VigilEvent[]> {
    return waitFor(`${names.join(', ')} of flow run ${flowRunId} in the log`, async () => {
      const events = (await logged()).filter((event) => event.resource.id === `prefect.flow-run.${flowRunId}`);
      return names.every((name) => events.some((event) => event.event === name)) ? events : undefined;
    }, 60_000, 250);
  }

  test('a failing flow run reaches the log with Prefect\'s names, labels, related resources and ids', async () => {
    const sources = await startSources('process-a');
    await waitFor('the source to stream', () => sources.statuses()[0]?.state === 'streaming', 30_000);
    const flowRunId = await failingFlowRun();
    const events = await waitForEvents(flowRunId, ['prefect.flow-run.Pending', 'prefect.flow-run.Running', 'prefect.flow-run.Failed']);
    const failed = events.find((event) => event.event === 'prefect.flow-run.Failed')!;
    const original = (await prefectEventsOf(flowRunId)).find((event) => event.event === 'prefect.flow-run.Failed')!;
    assert.equal(failed.id, original.id);
    assert.equal(failed.resource['prefect.resource.id'], `prefect.flow-run.${flowRunId}`);
    assert.equal(failed.resource['prefect.state-type'], 'FAILED');
    assert.equal(failed.resource['prefect.state-message'], 'ingest failed: upstream API returned 500');
    assert.equal(failed.resource.name, failed.resource['prefect.resource.name']);
    const flow = failed.related.find((related) => related.role === 'flow')!;
    assert.equal(flow.name, 'ingest-orders');
    assert.equal(flow['prefect.resource.role'], 'flow');
    const { flow_id: flowId } = await prefect.api<{ flow_id: string }>('GET', `/deployments/${deployment.id}`);
    assert.equal(flow.id, `prefect.flow.${flowId}`);
    assert.ok(failed.related.some((related) => related.role === 'deployment' && related.name === 'hourly'));
    assert.equal(failed.follows, events.find((event) => event.event === 'prefect.flow-run.Running')!.id);
    assert.deepEqual((failed.payload as { validated_state: { type: string } }).validated_state.type, 'FAILED');

    const status = sources.statuses()[0]!;
    assert.ok(status.events_appended >= 3);
    assert.equal(typeof status.lag_seconds, 'number');
    const exposition = await metrics.registry.metrics();
    assert.match(exposition, /vigil_prefect_source_streaming\{connection="prefect-prod"\} 1/);
    assert.match(exposition, /vigil_prefect_source_lag_seconds\{connection="prefect-prod"\} \d/);
    await stop(sources);
  });

  test('stopped and started again, a source resumes without gaps or doubles', async () => {
    const before = await failingFlowRun();
    const first = await startSources('process-b');
    await waitForEvents(before, ['prefect.flow-run.Failed']);
    await stop(first);
    // While no source runs: more flow runs fail.
    const missed = [await failingFlowRun(), await failingFlowRun()];
    const second = await startSources('process-c');
    for (const flowRunId of missed) await waitForEvents(flowRunId, ['prefect.flow-run.Pending', 'prefect.flow-run.Running', 'prefect.flow-run.Failed']);
    // Linger so that a resent double would be in the log too.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const inLog = await logged();
    for (const flowRunId of [before, ...missed]) {
      const expected = (await prefectEventsOf(flowRunId)).map((event) => event.id).sort();
      const got = inLog.filter((event) => event.resource.id === `prefect.flow-run.${flowRunId}`).map((event) => event.id).sort();
      assert.deepEqual(got, expected, `flow run ${flowRunId}: every Prefect event once`);
    }
    await stop(second);
  });

  test('two processes never both subscribe to one connection: the second stands by and takes over when the first stops', async () => {
    const a = await startSources('process-d');
    await waitFor('process-d to stream', () => a.statuses()[0]?.state === 'streaming', 30_000);
    const b = await startSources('process-e');
    await waitFor('process-e to stand by', () => b.statuses()[0]?.state === 'standby', 10_000);
    await stop(a);
    await waitFor('process-e to take over', () => b.statuses()[0]?.state === 'streaming', 30_000);
    const flowRunId = await failingFlowRun();
    await waitForEvents(flowRunId, ['prefect.flow-run.Failed']);
    await stop(b);
  });

  test('end to end: a failing Prefect flow run fires examples/failure-pauses-downstream.json', async () => {
    const downstream = await prefect.createDeployment({ flow: 'publish-reports', name: 'daily', schedules: [{ schedule: { cron: '0 7 * * *', timezone: 'Europe/Berlin' } }] });
    const slack: SlackStandIn = await startSlackStandIn();
    const dataDir = await mkdtemp(join(tmpdir(), 'vigil-prefect-e2e-'));
    const adminKey = `e2e-admin-${randomBytes(16).toString('hex')}`;
    const vigil = await startVigilProcess(
      {
        VIGIL_DATA_DIR: dataDir,
        VIGIL_ADMIN_KEY: adminKey,
        VIGIL_SECRET_KEY: randomBytes(32).toString('base64'),
        VIGIL_EGRESS_ALLOWLIST: '127.0.0.1',
        VIGIL_PREFECT_SOURCE_RELOAD_MS: '300',
      },
      7900 + Math.floor(Math.random() * 80),
    );
    try {
      const call = vigilApi(vigil.url, adminKey);
      const api = async (method: string, path: string, body?: unknown) => {
        const answer = await call(method, path, body);
        assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      };
      await api('PUT', '/api/connections/slack-data', { kind: 'slack', bot_token: slack.botToken, api_url: slack.apiUrl, pacing_ms: 0 });
      await api('PUT', '/api/connections/prefect-prod', {
        kind: 'prefect',
        api_url: prefect.apiUrl,
        auth_string: prefect.authString,
        event_source: { events: ['prefect.flow-run.'] },
      });
      const example = JSON.parse(await readFile(new URL('../../examples/failure-pauses-downstream.json', import.meta.url), 'utf8')) as { name: string };
      await api('PUT', `/api/automations/${example.name}`, example);

      // The source shows in /readyz (optional: an outside system does not make Vigil unready).
      const readiness = await waitFor('the Prefect source to stream', async () => {
        const body = (await (await fetch(`${vigil.url}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean; optional?: boolean; detail?: Array<{ connection: string; state: string }> }> };
        const check = body.checks.find((candidate) => candidate.name === 'prefect_sources');
        return check?.detail?.some((source) => source.connection === 'prefect-prod' && source.state === 'streaming') ? check : undefined;
      }, 30_000, 200);
      assert.equal(readiness.optional, true);

      const flowRunId = await failingFlowRun();
      await waitFor('publish-reports/daily to be paused in Prefect', async () => (await prefect.readDeployment(downstream.id)).paused, 60_000, 250);
      const flowRunName = (await prefect.api<{ name: string }>('GET', `/flow_runs/${flowRunId}`)).name;
      // (A new source starts a minute back: the earlier tests' failed runs may fire too.)
      const message = await waitFor('the Slack message', () => slack.messages.find((candidate) => candidate.channel === 'C0DATAPLATFORM' && candidate.text?.includes(flowRunName)), 30_000);
      assert.equal(message.text, `ingest-orders failed (flow run ${flowRunName}: ingest failed: upstream API returned 500); the publish-reports/daily schedule is paused until someone resumes it`);
      assert.match(await (await fetch(`${vigil.url}/metrics`)).text(), /vigil_prefect_source_events_total\{connection="prefect-prod"\} [1-9]/);
    } finally {
      await vigil.stop();
      await slack.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
