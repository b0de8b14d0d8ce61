import { z } from 'zod';

/**
 * Airflow's OpenLineage events in Vigil's Airflow vocabulary (DESIGN §3; table in
 * docs/reference/event-formats.md), the same names and labels as Vigil's own Airflow plugin
 * (sdk/python/src/vigil/airflow_plugin.py):
 * - a DAG run (run facet `airflowDagRun`) → `airflow.dag_run.started|success|failed` on
 *   `airflow.dag.<dag_id>`, labels dag_id, namespace, run_id (Airflow's), run_type, logical_date;
 * - a task instance (run facet `airflow`) → `airflow.task.started|success|failed|…` on
 *   `airflow.task.<dag_id>.<task_id>`, labels dag_id, task_id, namespace, run_id, try_number
 *   (map_index for a mapped task), related `airflow.dag.<dag_id>` with role `dag`.
 * Recognised by the producer (apache-airflow-providers-openlineage, or the older
 * openlineage-airflow) or the job type facet's integration `AIRFLOW`, together with one of those
 * facets — as sent by the provider for Airflow 2.10 (1.x) and 3.x (2.x).
 */
const label = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const dagRunFields = z
  .object({
    dag_id: label.optional(),
    run_id: label.optional(),
    run_type: label.optional(),
    logical_date: label.nullish(),
    execution_date: label.nullish(),
  })
  .loose();

const dagFields = z.object({ dag_id: label.optional() }).loose();

const dagRunFacet = z.object({ dag: dagFields.optional(), dagRun: dagRunFields }).loose();

const taskFacet = z
  .object({
    dag: dagFields.optional(),
    dagRun: dagRunFields.optional(),
    task: z.object({ task_id: label }).loose(),
    taskInstance: z.object({ try_number: label.optional(), map_index: z.number().optional() }).loose().optional(),
  })
  .loose();

const jobTypeFacet = z.object({ integration: z.string().optional(), jobType: z.string().optional() }).loose();

/** What the Airflow mapping needs of a RunEvent (already validated as one). */
export interface AirflowRunEvent {
  readonly eventType?: string | undefined;
  readonly producer: string;
  readonly job: { readonly namespace: string; readonly name: string; readonly facets?: Record<string, unknown> | undefined };
  readonly run: { readonly runId: string; readonly facets?: Record<string, unknown> | undefined };
}

export interface AirflowVocabulary {
  readonly event: string;
  readonly resource: Record<string, string>;
  readonly related: readonly Record<string, string>[];
}

const airflowProducer = /\/apache\/airflow(\/|$)|\/integration\/airflow(\/|$)/;

/** OpenLineage's run states in Airflow's words (the same for DAG runs and task instances). */
const airflowStates: Record<string, string> = { start: 'started', running: 'running', complete: 'success', fail: 'failed', abort: 'aborted', other: 'other' };

export function jobTypeOf(event: AirflowRunEvent): { integration?: string; jobType?: string } {
  const parsed = jobTypeFacet.safeParse(event.job.facets?.jobType);
  if (!parsed.success) return {};
  return {
    ...(parsed.data.integration ? { integration: parsed.data.integration } : {}),
    ...(parsed.data.jobType ? { jobType: parsed.data.jobType } : {}),
  };
}

function withoutEmpty(labels: Record<string, string | undefined | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''));
}

/** The Airflow vocabulary for an Airflow RunEvent; undefined for other producers (the generic mapping applies). */
export function airflowVocabularyOf(event: AirflowRunEvent): AirflowVocabulary | undefined {
  if (!airflowProducer.test(event.producer) && jobTypeOf(event).integration?.toUpperCase() !== 'AIRFLOW') return undefined;
  const state = (event.eventType ?? 'OTHER').toLowerCase();
  const namespace = event.job.namespace;

  const task = taskFacet.safeParse(event.run.facets?.airflow);
  if (task.success) {
    const dagId = task.data.dag?.dag_id ?? task.data.dagRun?.dag_id;
    if (dagId === undefined) return undefined;
    const taskId = task.data.task.task_id;
    const mapIndex = task.data.taskInstance?.map_index;
    return {
      event: `airflow.task.${airflowStates[state] ?? state}`,
      resource: withoutEmpty({
        id: `airflow.task.${dagId}.${taskId}`,
        dag_id: dagId,
        task_id: taskId,
        namespace,
        run_id: task.data.dagRun?.run_id,
        try_number: task.data.taskInstance?.try_number,
        map_index: mapIndex !== undefined && mapIndex >= 0 ? String(mapIndex) : undefined,
      }),
      related: [{ id: `airflow.dag.${dagId}`, role: 'dag' }],
    };
  }

  const dagRun = dagRunFacet.safeParse(event.run.facets?.airflowDagRun);
  if (dagRun.success) {
    const dagId = dagRun.data.dagRun.dag_id ?? dagRun.data.dag?.dag_id ?? event.job.name;
    return {
      event: `airflow.dag_run.${airflowStates[state] ?? state}`,
      resource: withoutEmpty({
        id: `airflow.dag.${dagId}`,
        dag_id: dagId,
        namespace,
        run_id: dagRun.data.dagRun.run_id,
        run_type: dagRun.data.dagRun.run_type,
        logical_date: dagRun.data.dagRun.logical_date ?? dagRun.data.dagRun.execution_date,
      }),
      related: [],
    };
  }
  return undefined;
}
