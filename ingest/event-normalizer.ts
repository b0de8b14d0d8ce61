import type { z } from 'zod';
import { incomingEvent, type IncomingEvent, type VigilEvent } from '../schemas/event.ts';
import { eventLimits } from '../schemas/limits.ts';
import type { ItemProblem } from '../platform/http/http-error.ts';
import { newEventId } from '../schemas/event-id.ts';

export type NormalizeResult =
  | { readonly ok: true; readonly events: VigilEvent[] }
  | { readonly ok: false; readonly problems: ItemProblem[] };

/** A zod issue path as a dotted path with indexes: `related[2].role`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text === '' ? String(key) : `${text}.${String(key)}`;
  }, '');
}

export function zodProblems(index: number, error: z.ZodError, pathPrefix = ''): ItemProblem[] {
  return error.issues.map((issue) => ({
    index,
    path: issuePath([...(pathPrefix ? [pathPrefix] : []), ...issue.path]),
    message: issue.message,
  }));
}

/**
 * Validates a batch of incoming events and fills in what Vigil assigns: a uuidv7 `id` where
 * absent, `occurred` = receive time where absent, `received` always. All or nothing: any bad
 * item makes the whole batch invalid, with every problem listed. `sourceBytes` is the size of the
 * request the items came from.
 */
/** Upper bound of what normalizing adds to an event's JSON (id, occurred, received, empty related/payload). */
const addedBytesBound = 512;

export function normalizeEvents(items: readonly unknown[], received: Date, sourceBytes = Number.POSITIVE_INFINITY): NormalizeResult {
  // When the whole request is smaller than one event may be, no event can be too large:
  // skip serializing each one just to measure it (the common case for batches of small events).
  const measure = sourceBytes + addedBytesBound > eventLimits.maxEventBytes;
  const receivedIso = received.toISOString();
  const problems: ItemProblem[] = [];
  const events: VigilEvent[] = [];
  for (const [index, item] of items.entries()) {
    const parsed = incomingEvent.safeParse(item);
    if (!parsed.success) {
      problems.push(...zodProblems(index, parsed.error));
      continue;
    }
    const event = complete(parsed.data, receivedIso);
    const bytes = measure ? Buffer.byteLength(JSON.stringify(event)) : 0;
    if (bytes > eventLimits.maxEventBytes) {
      problems.push({
        index,
        path: '',
        message: `the event is ${bytes} bytes as JSON; at most ${eventLimits.maxEventBytes} bytes (${eventLimits.maxEventBytes / 1024} KiB) are allowed`,
      });
      continue;
    }
    events.push(event);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, events };
}

function complete(event: IncomingEvent, receivedIso: string): VigilEvent {
  return {
    id: event.id ?? newEventId(),
    occurred: event.occurred ? new Date(event.occurred).toISOString() : receivedIso,
    received: receivedIso,
    event: event.event,
    resource: event.resource,
    related: event.related ?? [],
    payload: event.payload ?? {},
    ...(event.follows ? { follows: event.follows } : {}),
  };
}
