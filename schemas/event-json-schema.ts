import { z } from 'zod';
import { incomingEvent } from './event.ts';

/** The JSON Schema of an event as sent to POST /api/events (`schemas/json/event.schema.json`). */
export function eventJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(incomingEvent, { io: 'input' }), $id: 'https://vigil.dev/schemas/event.schema.json', title: 'Vigil event' };
}
