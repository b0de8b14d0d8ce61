import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { incomingEvent } from '../schemas/event.ts';
import { openLineageToNative } from './openlineage-format.ts';

/** RunEvents recorded from a real `airflow dags test` (Airflow 3.3.2, apache-airflow-providers-openlineage 2.20.3). */
const recorded = JSON.parse(
  await readFile(new URL('../test/fixtures/openlineage/airflow-3.3.2-provider-2.20.3.json', import.meta.url), 'utf8'),
) as Record<string, unknown>[];

function mapped(values: readonly unknown[]): Record<string, unknown>[] {
  const { items, problems } = openLineageToNative(values);
  assert.deepEqual(problems, []);
  for (const item of items) assert.ok(incomingEvent.safeParse(item).success, JSON.stringify(item));
  return items as Record<string, unknown>[];
}

test("Airflow 3 provider events map to Airflow's vocabulary with Airflow's run id, try number and run type", () => {
  const events = mapped(recorded);
  const summary = events.map((event) => [event.event, (event.resource as { id: string }).id]);
  assert.deepEqual(summary, [
    ['airflow.task.started', 'airflow.task.sales_refresh.extract'],
    ['airflow.task.success', 'airflow.task.sales_refresh.extract'],
    ['airflow.task.started', 'airflow.task.sales_refresh.load'],
    ['airflow.task.success', 'airflow.task.sales_refresh.load'],
    ['airflow.dag_run.success', 'airflow.dag.sales_refresh'],
    ['airflow.task.started', 'airflow.task.ingest_orders.boom'],
    ['airflow.task.failed', 'airflow.task.ingest_orders.boom'],
    ['airflow.dag_run.failed', 'airflow.dag.ingest_orders'],
  ]);
  assert.deepEqual(events[1]!.resource, {
    id: 'airflow.task.sales_refresh.extract',
    dag_id: 'sales_refresh',
    task_id: 'extract',
    namespace: 'prod',
    run_id: 'manual__2026-12-06T03:12:37.227810+00:00',
    try_number: '1',
  });
  assert.deepEqual(events[1]!.related, [{ id: 'airflow.dag.sales_refresh', role: 'dag' }]);
  assert.deepEqual(events[7]!.resource, {
    id: 'airflow.dag.ingest_orders',
    dag_id: 'ingest_orders',
    namespace: 'prod',
    run_id: 'manual__2026-12-06T03:13:13.628625+00:00',
    run_type: 'manual',
    logical_date: '2026-12-01T00:00:00+00:00',
  });
  assert.equal(events[7]!.occurred, recorded[7]!.eventTime);
  assert.deepEqual(events[7]!.payload, recorded[7], 'the whole RunEvent stays in the payload');
});

test('Airflow 2.10 provider events (Airflow 2.10.5, provider 2.8.0, recorded the same way) map to the same vocabulary', async () => {
  const recorded210 = JSON.parse(
    await readFile(new URL('../test/fixtures/openlineage/airflow-2.10.5-provider-2.8.0.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>[];
  const events = mapped(recorded210);
  assert.deepEqual(events.map((event) => [event.event, (event.resource as { id: string }).id]), [
    ['airflow.task.started', 'airflow.task.sales_refresh.extract'],
    ['airflow.task.success', 'airflow.task.sales_refresh.extract'],
    ['airflow.task.started', 'airflow.task.sales_refresh.load'],
    ['airflow.task.success', 'airflow.task.sales_refresh.load'],
    ['airflow.dag_run.success', 'airflow.dag.sales_refresh'],
    ['airflow.task.started', 'airflow.task.ingest_orders.fetch_orders'],
    ['airflow.task.failed', 'airflow.task.ingest_orders.fetch_orders'],
    ['airflow.dag_run.failed', 'airflow.dag.ingest_orders'],
  ]);
  assert.deepEqual(events[6]!.resource, {
    id: 'airflow.task.ingest_orders.fetch_orders',
    dag_id: 'ingest_orders',
    task_id: 'fetch_orders',
    namespace: 'prod',
    run_id: 'manual__2026-12-02T00:00:00+00:00',
    try_number: '1',
  });
  assert.deepEqual(events[7]!.resource, {
    id: 'airflow.dag.ingest_orders',
    dag_id: 'ingest_orders',
    namespace: 'prod',
    run_id: 'manual__2026-12-02T00:00:00+00:00',
    run_type: 'manual',
    logical_date: '2026-12-02T00:00:00+00:00',
  });
});

test('ids are deterministic: a resent RunEvent gets the same id, another state another id', () => {
  const once = mapped(recorded).map((event) => event.id);
  const again = mapped(structuredClone(recorded)).map((event) => event.id);
  assert.deepEqual(once, again);
  assert.equal(new Set(once).size, once.length);
});

test('older facets (execution_date, no run_type: provider 1.x) and mapped tasks map the same way', () => {
  const dagFail = structuredClone(recorded[7]!) as { producer: string; run: { facets: { airflowDagRun: { dagRun: Record<string, unknown> } } } };
  dagFail.producer = 'https://github.com/apache/airflow/tree/providers-openlineage/1.14.0';
  const dagRun = dagFail.run.facets.airflowDagRun.dagRun;
  dagRun.execution_date = dagRun.logical_date;
  delete dagRun.logical_date;
  delete dagRun.run_type;
  const task = structuredClone(recorded[6]!) as { run: { facets: { airflow: { taskInstance: Record<string, unknown> } } } };
  task.run.facets.airflow.taskInstance.map_index = 3;
  task.run.facets.airflow.taskInstance.try_number = 2;
  const [dag, mappedTask] = mapped([dagFail, task]);
  assert.deepEqual(dag!.resource, {
    id: 'airflow.dag.ingest_orders',
    dag_id: 'ingest_orders',
    namespace: 'prod',
    run_id: 'manual__2026-12-06T03:13:13.628625+00:00',
    logical_date: '2026-12-01T00:00:00+00:00',
  });
  assert.equal((mappedTask!.resource as Record<string, string>).map_index, '3');
  assert.equal((mappedTask!.resource as Record<string, string>).try_number, '2');
});

test('other producers keep openlineage.run.<type>, with the job type as a label', () => {
  const dbtOl = {
    eventType: 'COMPLETE',
    eventTime: '2026-12-01T08:00:00Z',
    producer: 'https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/dbt',
    run: { runId: '01a22ee6-b000-7c25-a5dc-243e056848c5' },
    job: { namespace: 'dbt', name: 'shop.sales', facets: { jobType: { integration: 'DBT', jobType: 'MODEL', processingType: 'BATCH' } } },
  };
  const [event] = mapped([dbtOl]);
  assert.equal(event!.event, 'openlineage.run.complete');
  assert.deepEqual(event!.resource, {
    id: 'dbt/shop.sales',
    job_namespace: 'dbt',
    job_name: 'shop.sales',
    run_id: '01a22ee6-b000-7c25-a5dc-243e056848c5',
    job_type: 'MODEL',
    integration: 'DBT',
  });
  // An Airflow producer without Airflow's run facets (nothing to name the DAG or task by) stays generic too.
  const bare = { ...structuredClone(recorded[4]!), run: { runId: 'x-1' } };
  const [generic] = mapped([bare]);
  assert.equal(generic!.event, 'openlineage.run.complete');
  assert.equal((generic!.resource as Record<string, string>).job_type, 'DAG');
});
