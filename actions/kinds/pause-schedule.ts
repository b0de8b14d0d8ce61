import type { Executor } from '../executor.ts';
import { setSchedulePaused } from './schedule-toggle.ts';

/** pause-schedule: a Prefect deployment (or one of its schedules), or an Airflow DAG (paused). */
export const execute: Executor<'pause-schedule'> = (context) => setSchedulePaused(context, true);
