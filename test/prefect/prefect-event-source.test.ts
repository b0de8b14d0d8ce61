import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createEventIntake } from '../../ingest/event-intake.ts';
import { startPrefectEventSources, type PrefectEventSources } from '../../ingest/prefect/prefect-event-sources.ts';
import type { PrefectSourceConfig } from '../../ingest/prefect/prefect-event-subscription.ts';
import { createKafkaEventLog } from '../../platform/kafka/kafka-event-log.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { EventLog } from '../../platform/ports/event-log.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { kafkaBrokers } from '../support/ingest-harness.ts';
import { startPrefectServer, type PrefectDeployment, type PrefectServer } from '../support/prefect-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { waitFor } from '../support/wait-for.ts';

/*
 * Prefect's events as a source, against a real Prefect 3 server (started once for this file),
 * into a real Kafka event log through the intake, with the resume position in a real PostgreSQL
 * database: a failing flow run's events arrive with Prefect's names, labels, related resources
 * and ids; a source stopped and started again resumes without gaps or doubles; two processes
 * never both subscribe.
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
    const t0 = Date.now();
    const step = (what: string) => console.log(`# ${what} after ${Date.now() - t0} ms`);
    const a = await startSources('process-d');
    await waitFor('process-d to stream', () => a.statuses()[0]?.state === 'streaming', 30_000);
    step('process-d streams');
    const b = await startSources('process-e');
    await waitFor('process-e to stand by', () => b.statuses()[0]?.state === 'standby', 10_000);
    step('process-e stands by');
    await stop(a);
    step('process-d stopped');
    await waitFor('process-e to take over', () => b.statuses()[0]?.state === 'streaming', 30_000);
    step('process-e streams');
    const flowRunId = await failingFlowRun();
    await waitForEvents(flowRunId, ['prefect.flow-run.Failed']);
    step('events arrived');
    await stop(b);
  });
});
