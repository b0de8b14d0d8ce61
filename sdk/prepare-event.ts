import { incomingEvent, type IncomingEvent } from '../schemas/event.ts';
import { eventLimits } from '../schemas/limits.ts';
import type { ApiProblem } from './errors.ts';
import { newEventId } from '../schemas/event-id.ts';

/** An event ready to send: validated, with its id and occurred time fixed, serialized once. */
export interface PreparedEvent {
  readonly event: IncomingEvent & { id: string; occurred: string };
  readonly json: string;
  /** UTF-8 bytes of `json`. */
  readonly bytes: number;
}

export type PrepareResult = { ok: true; prepared: PreparedEvent } | { ok: false; problems: ApiProblem[] };

/** What the server adds before it measures an event against `maxEventBytes` (received, empty related/payload), with room for time normalization. */
const serverOverheadBytes = 96;

/** A zod issue path as the server writes it: `resource.id`, `related[2].role`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text === '' ? String(key) : `${text}.${String(key)}`;
  }, '');
}

/**
 * Checks an event the way the server will (schema and size) and fixes what the server would
 * otherwise fill in at receive time: a uuidv7 `id` (so that a retried batch deduplicates) and
 * `occurred` = now (so that buffering and retries do not shift the event's time).
 */
export function prepareEvent(input: unknown, now: Date = new Date()): PrepareResult {
  const parsed = incomingEvent.safeParse(input);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message })) };
  }
  const event = { ...parsed.data, id: parsed.data.id ?? newEventId(), occurred: parsed.data.occurred ?? now.toISOString() };
  let json: string;
  try {
    json = JSON.stringify(event);
  } catch (error) {
    return { ok: false, problems: [{ path: 'payload', message: `cannot be serialized as JSON: ${error instanceof Error ? error.message : String(error)}` }] };
  }
  const bytes = Buffer.byteLength(json);
  if (bytes + serverOverheadBytes > eventLimits.maxEventBytes) {
    return {
      ok: false,
      problems: [{ path: '', message: `the event is ${bytes} bytes as JSON; at most ${eventLimits.maxEventBytes} bytes (${eventLimits.maxEventBytes / 1024} KiB) are allowed` }],
    };
  }
  return { ok: true, prepared: { event, json, bytes } };
}
