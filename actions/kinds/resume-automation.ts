import type { Executor } from '../executor.ts';
import { setAutomationEnabled } from './automation-toggle.ts';

/** resume-automation: enables an automation again. */
export const execute: Executor<'resume-automation'> = (context) => setAutomationEnabled(context, true);
