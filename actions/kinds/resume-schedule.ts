import type { Executor } from '../executor.ts';
import { setSchedulePaused } from './schedule-toggle.ts';

/** resume-schedule: a Prefect deployment (or one of its schedules), or an Airflow DAG (unpaused). */
export const execute: Executor<'resume-schedule'> = (context) => setSchedulePaused(context, false);
