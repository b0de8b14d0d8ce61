import { z } from 'zod';
import { airflowVocabularyOf, jobTypeOf } from './airflow-openlineage.ts';
import { deterministicEventId } from './deterministic-id.ts';
import { mapItems, type MappedItems } from './format-mapping.ts';

/**
 * OpenLineage RunEvent → native event (tables in docs/reference/event-formats.md). Airflow's
 * events get the Airflow vocabulary (./airflow-openlineage.ts); other producers' get
 * event = `openlineage.run.<eventType lower-case>` (`other` when absent); occurred = eventTime;
 * resource = the job (`<namespace>/<name>`, labels job_namespace, job_name, run_id, and job_type
 * and integration from the job type facet);
 * related = the parent job (role `parent`) and each input/output dataset (roles `input`,
 * `output`); payload = the RunEvent as sent; id = UUID v5 of (runId, eventType, eventTime, job).
 */
const dataset = z.object({ namespace: z.string().min(1), name: z.string().min(1) }).loose();

const runEvent = z
  .object({
    eventType: z
      .enum(['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER'], {
        error: 'must be one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER',
      })
      .optional(),
    eventTime: z.string({ error: 'is required (an ISO 8601 date-time)' }),
    run: z.object({ runId: z.string().min(1, 'must not be empty'), facets: z.record(z.string(), z.unknown()).optional() }).loose(),
    job: z.object({ namespace: z.string().min(1, 'must not be empty'), name: z.string().min(1, 'must not be empty'), facets: z.record(z.string(), z.unknown()).optional() }).loose(),
    producer: z.string().min(1, 'must not be empty'),
    schemaURL: z.string().optional(),
    inputs: z.array(dataset).optional(),
    outputs: z.array(dataset).optional(),
  })
  .loose();

type RunEvent = z.infer<typeof runEvent>;

const parentFacet = z.object({
  run: z.object({ runId: z.string() }),
  job: z.object({ namespace: z.string(), name: z.string() }),
});

const nativeToOpenLineagePath: Record<string, string> = {
  event: 'eventType',
  occurred: 'eventTime',
  'resource.id': 'job',
  'resource.job_namespace': 'job.namespace',
  'resource.job_name': 'job.name',
  'resource.run_id': 'run.runId',
  related: 'inputs/outputs',
};

export function openLineageToNative(values: readonly unknown[]): MappedItems {
  return mapItems(values, runEvent, toNative, (path) =>
    nativeToOpenLineagePath[path] ?? path.replace(/^payload\.?/, '').replace(/^related\[\d+\]/, 'inputs/outputs'),
  );
}

function toNative(event: RunEvent): Record<string, unknown> {
  const eventType = (event.eventType ?? 'OTHER').toLowerCase();
  const id = deterministicEventId('openlineage', event.run.runId, eventType, event.eventTime, event.job.namespace, event.job.name);
  const datasets = [...(event.inputs ?? []).map((input) => datasetRelation(input, 'input')), ...(event.outputs ?? []).map((output) => datasetRelation(output, 'output'))];
  const airflow = airflowVocabularyOf(event);
  if (airflow) return { id, event: airflow.event, occurred: event.eventTime, resource: airflow.resource, related: [...airflow.related, ...datasets], payload: event };

  const job = `${event.job.namespace}/${event.job.name}`;
  const parent = parentFacet.safeParse(event.run.facets?.parent);
  const { integration, jobType } = jobTypeOf(event);
  const related = [
    ...(parent.success
      ? [{ id: `${parent.data.job.namespace}/${parent.data.job.name}`, role: 'parent', job_namespace: parent.data.job.namespace, job_name: parent.data.job.name, run_id: parent.data.run.runId }]
      : []),
    ...datasets,
  ];
  return {
    id,
    event: `openlineage.run.${eventType}`,
    occurred: event.eventTime,
    resource: {
      id: job,
      job_namespace: event.job.namespace,
      job_name: event.job.name,
      run_id: event.run.runId,
      ...(jobType ? { job_type: jobType } : {}),
      ...(integration ? { integration } : {}),
    },
    related,
    payload: event,
  };
}

function datasetRelation(dataset: { namespace: string; name: string }, role: 'input' | 'output') {
  return { id: `${dataset.namespace}/${dataset.name}`, role, namespace: dataset.namespace, name: dataset.name };
}
