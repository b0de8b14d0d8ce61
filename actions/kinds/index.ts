import type { ActionKind } from '../../schemas/action.ts';
import type { Executor } from '../executor.ts';
import { execute as callWebhook } from './call-webhook.ts';
import { execute as emitEvent } from './emit-event.ts';
import { execute as pauseAutomation } from './pause-automation.ts';
import { execute as pauseSchedule } from './pause-schedule.ts';
import { execute as pauseWorkQueue } from './pause-work-queue.ts';
import { execute as resumeAutomation } from './resume-automation.ts';
import { execute as resumeSchedule } from './resume-schedule.ts';
import { execute as resumeWorkQueue } from './resume-work-queue.ts';
import { execute as runDeployment } from './run-deployment.ts';
import { execute as sendNotification } from './send-notification.ts';

/** One executor per action kind (one module each, named after the kind). */
export const executors: { readonly [K in ActionKind]: Executor<K> } = {
  'send-notification': sendNotification,
  'call-webhook': callWebhook,
  'run-deployment': runDeployment,
  'pause-work-queue': pauseWorkQueue,
  'resume-work-queue': resumeWorkQueue,
  'pause-schedule': pauseSchedule,
  'resume-schedule': resumeSchedule,
  'pause-automation': pauseAutomation,
  'resume-automation': resumeAutomation,
  'emit-event': emitEvent,
};
