import { PermanentActionError } from '../../platform/ports/action-queue.ts';
import { incomingEvent, type VigilEvent } from '../../schemas/event.ts';
import { depthAfter, derivedEventId } from '../derived-events.ts';
import type { Executor } from '../executor.ts';
import { render, renderJson, renderRecord } from '../templates.ts';

/** Derived events deeper than this are refused: an automation reacting to its own events would loop. */
const maxEventDepth = 8;

/*
 * emit-event: a derived event (e.g. `sla.missed`) through the event log, so other automations can
 * react to it. Its id is derived from the action run, so a repeated attempt emits the same event
 * (deduplicated downstream); `follows` points at the event that fired the automation.
 */
export const execute: Executor<'emit-event'> = async (context) => {
  const { action, scope } = context;
  const depth = depthAfter(context.job.context);
  if (depth > maxEventDepth) {
    throw new PermanentActionError(`loop protection: the event would be ${depth} derivations deep (at most ${maxEventDepth})`);
  }
  const candidate = {
    event: (await render(action.event, scope)).trim(),
    resource: await renderRecord(action.resource, scope),
    ...(action.related ? { related: await Promise.all(action.related.map((related) => renderRecord(related, scope))) } : {}),
    payload: { ...((await renderJson(action.payload, scope)) as Record<string, unknown>), vigil_depth: depth },
  };
  const parsed = incomingEvent.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PermanentActionError(`the rendered event is invalid: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unknown error'}`);
  }
  const now = new Date().toISOString();
  const event: VigilEvent = {
    id: derivedEventId('emit-event', context.runId),
    occurred: now,
    received: now,
    event: parsed.data.event,
    resource: parsed.data.resource,
    related: parsed.data.related ?? [],
    payload: parsed.data.payload ?? {},
    ...(context.job.context.event ? { follows: context.job.context.event.id } : {}),
  };
  await context.emit([event]);
  return { result: { event_id: event.id, event: event.event } };
};
