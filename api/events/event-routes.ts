import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { eventGlobProblem } from '../../schemas/glob-syntax.ts';
import { vigilEvent } from '../../schemas/event.ts';
import { isStorableTime, storableTimeMessage } from '../../schemas/storable.ts';
import { HttpError } from '../../platform/http/http-error.ts';
import { type EventFilter, type EventHistory, type StoredEvent } from '../../history/event-history.ts';
import type { EventStreamHub } from './event-stream-hub.ts';
import { decodePageCursor } from '../../schemas/page-cursor.ts';

const timestamp = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a time zone' })
  .refine(isStorableTime, storableTimeMessage)
  .transform((value) => new Date(value));

const filterQuery = z.object({
  since: timestamp.optional(),
  until: timestamp.optional(),
  event: z
    .string()
    .optional()
    .superRefine((glob, ctx) => {
      const problem = glob === undefined ? null : eventGlobProblem(glob);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  resource: z.string().min(1).optional(),
});

const pageQuery = filterQuery.extend({
  limit: z.coerce.number().int('must be a whole number').min(1).max(1_000, 'must be at most 1000').default(100),
  cursor: z.string().optional(),
});

/** The query parameters as the OpenAPI description states them (the zod schemas above enforce them). */
const filterParameters = {
  since: { type: 'string', format: 'date-time', description: 'occurred ≥ since (ISO 8601 with a time zone)' },
  until: { type: 'string', format: 'date-time', description: 'occurred < until' },
  event: { type: 'string', minLength: 1, description: 'event-name glob: `*` matches any characters, a leading `!` negates' },
  resource: { type: 'string', minLength: 1, description: 'resource id' },
} as const;
/** `label.<key>=<value>`: resource labels that must be equal. */
const labelParameters = { '^label\\.': { type: 'string' } } as const;
const filterQuerystring = { type: 'object', properties: filterParameters, patternProperties: labelParameters, additionalProperties: false } as const;
const pageQuerystring = {
  type: 'object',
  properties: {
    ...filterParameters,
    limit: { type: 'integer', minimum: 1, maximum: 1_000, default: 100, description: 'events per page' },
    cursor: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', description: '`next` of the previous page' },
  },
  patternProperties: labelParameters,
  additionalProperties: false,
} as const;
const storedEventSchema = z.toJSONSchema(vigilEvent, { target: 'openapi-3.0' });
/** One Server-Sent Events message of the stream: `event: event`, the history position as `id`, the event as JSON in `data`. */
const sseMessageSchema = {
  type: 'object',
  properties: { event: { type: 'string', enum: ['event'] }, id: { type: 'string', pattern: '^[0-9]+$' }, data: { type: 'string', description: 'the event as JSON' } },
  required: ['data'],
};
const pageSchema = { type: 'object', properties: { events: { type: 'array', items: storedEventSchema }, next: { type: 'string' } }, required: ['events'] };

/** Bytes an SSE client may leave unread before it is disconnected. */
const maxUnreadBytes = 1024 * 1024;
const heartbeatMs = 15_000;

/** `label.<key>=<value>` query parameters: resource labels that must be equal. */
function labelFilters(query: Record<string, unknown>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('label.')) continue;
    if (typeof value !== 'string') throw new HttpError(400, 'invalid_query', `query parameter ${key} must be given once`);
    labels[key.slice('label.'.length)] = value;
  }
  return labels;
}

function parseQuery<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const query = request.query as Record<string, unknown>;
  const known = Object.fromEntries(Object.entries(query).filter(([key]) => !key.startsWith('label.')));
  const parsed = schema.safeParse(known);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new HttpError(400, 'invalid_query', `query parameter ${issue.path.join('.') || '(unknown)'}: ${issue.message}`, {
      details: { errors: parsed.error.issues.map((entry) => ({ path: entry.path.join('.'), message: entry.message })) },
    });
  }
  return parsed.data;
}

function toFilter(query: z.infer<typeof filterQuery>, labels: Record<string, string>): EventFilter {
  return {
    ...(query.since ? { since: query.since } : {}),
    ...(query.until ? { until: query.until } : {}),
    ...(query.event ? { event: query.event } : {}),
    ...(query.resource ? { resourceId: query.resource } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
}

function publicEvent(event: StoredEvent): Omit<StoredEvent, 'seq'> {
  const { seq: _seq, ...rest } = event;
  return rest;
}

/** GET /api/events (history with cursor pagination) and GET /api/events/stream (live SSE). */
export function registerEventRoutes(app: FastifyInstance, history: EventHistory, hub: EventStreamHub): void {
  const filterDescription = 'Filters (all optional, AND-ed): since/until (occurred time), event (name glob, `!` negates), resource (resource id), label.<key>=<value> (resource labels).';

  app.get(
    '/api/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Query the event history, newest first',
        description: `${filterDescription} Pages of \`limit\` (default 100, at most 1000); pass \`next\` back as \`cursor\`.`,
        tags: ['events'],
        querystring: pageQuerystring,
        response: { 200: pageSchema },
      },
    },
    async (request) => {
      const query = parseQuery(pageQuery, request);
      const cursor = query.cursor === undefined ? undefined : decodePageCursor(query.cursor, (id) => id.length > 0);
      if (query.cursor !== undefined && !cursor) throw new HttpError(400, 'invalid_query', 'query parameter cursor: not a cursor returned by this API');
      const page = await history.page(toFilter(query, labelFilters(request.query as Record<string, unknown>)), query.limit, cursor);
      return { events: page.events.map(publicEvent), ...(page.next ? { next: page.next } : {}) };
    },
  );

  app.get(
    '/api/events/stream',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Live stream of new events (Server-Sent Events)',
        description: `${filterDescription} Each new matching event is one \`event: event\` message whose data is the event as JSON. A client that leaves more than 1 MiB unread is disconnected.`,
        tags: ['events'],
        querystring: filterQuerystring,
        response: { 200: { description: 'A stream of Server-Sent Events that stays open', content: { 'text/event-stream': { schema: sseMessageSchema } } } },
      },
    },
    async (request, reply) => {
      const filter = toFilter(parseQuery(filterQuery, request), labelFilters(request.query as Record<string, unknown>));
      const socket = reply.raw;
      const unsubscribe = await hub.subscribe(filter, {
        deliver(event) {
          if (socket.writableLength > maxUnreadBytes) {
            socket.destroy();
            return false;
          }
          socket.write(`id: ${event.seq}\nevent: event\ndata: ${JSON.stringify(publicEvent(event))}\n\n`);
          return true;
        },
      });
      reply.hijack();
      socket.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      socket.write(': connected\n\n');
      const heartbeat = setInterval(() => socket.write(': ping\n\n'), heartbeatMs);
      socket.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  );
}
