import type { Executor } from '../executor.ts';
import { setAutomationEnabled } from './automation-toggle.ts';

/** pause-automation: disables an automation (default: the one that fired). */
export const execute: Executor<'pause-automation'> = (context) => setAutomationEnabled(context, false);
