import type { VigilEvent } from '../schemas/event.ts';
import type { Logger } from './automation-catalog.ts';

/**
 * One info line per firing and per resolution, for a person watching the terminal (the SLA that
 * fired, for which key, when it was due), from the lifecycle events a committed batch wrote.
 */
export function logFirings(logger: Logger, events: readonly VigilEvent[]): void {
  for (const event of events) {
    if (event.event !== 'vigil.automation.triggered' && event.event !== 'vigil.automation.resolved') continue;
    const payload = event.payload as { automation?: string; firing_id?: string; for_each?: Record<string, string>; count?: number; deadline?: string };
    const keys = Object.entries(payload.for_each ?? {}).map(([key, value]) => `${key}=${value}`);
    const what = event.event === 'vigil.automation.triggered' ? 'fired' : 'resolved';
    logger.info(
      { automation: payload.automation, firing_id: payload.firing_id, for_each: payload.for_each, count: payload.count, ...(payload.deadline ? { deadline: payload.deadline } : {}) },
      `automation ${payload.automation ?? '?'} ${what}${keys.length > 0 ? ` for ${keys.join(', ')}` : ''}${payload.deadline && what === 'fired' ? ` (deadline ${payload.deadline})` : ''}`,
    );
  }
}
