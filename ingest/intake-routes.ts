import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../platform/http/http-error.ts';
import { incomingEvent } from '../schemas/event.ts';
import { binaryCloudEvent, cloudEventsToNative } from './cloudevents-format.ts';
import type { EventIntake, IntakeBatch } from './event-intake.ts';
import { openLineageToNative } from './openlineage-format.ts';
import { decodeUtf8, mediaType, parseJson, parseNdjson } from '../platform/http/request-body.ts';

const jsonTypes = new Set(['application/json']);
const ndjsonTypes = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl']);
const cloudEventTypes = new Set(['application/cloudevents+json']);
const cloudEventBatchTypes = new Set(['application/cloudevents-batch+json']);

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);
const decodeJsonBody = (body: Buffer): unknown => parseJson(decodeUtf8(body));

function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** Reads POST /api/events in any of its forms into one intake batch. */
function eventsBatch(request: FastifyRequest): IntakeBatch {
  const type = mediaType(request.headers['content-type']);
  const body = rawBody(request);
  if (request.headers['ce-specversion'] !== undefined) {
    const event = binaryCloudEvent(request.headers, body, request.headers['content-type'], decodeJsonBody, decodeUtf8);
    return { format: 'cloudevents', ...cloudEventsToNative([event]) };
  }
  if (cloudEventTypes.has(type)) {
    const value = decodeJsonBody(body);
    if (Array.isArray(value)) throw new HttpError(400, 'malformed_cloudevent', 'a structured CloudEvent must be one JSON object; send arrays as application/cloudevents-batch+json');
    return { format: 'cloudevents', ...cloudEventsToNative([value]) };
  }
  if (cloudEventBatchTypes.has(type)) {
    const value = decodeJsonBody(body);
    if (!Array.isArray(value)) throw new HttpError(400, 'malformed_cloudevent', 'a CloudEvents batch must be a JSON array');
    return { format: 'cloudevents', ...cloudEventsToNative(value) };
  }
  // Native events grow by at most the fields Vigil fills in, so the body size bounds each
  // event's size (mapped formats can duplicate fields, so they are always measured).
  if (jsonTypes.has(type)) return { format: 'native', items: asList(decodeJsonBody(body)), sourceBytes: body.length };
  if (ndjsonTypes.has(type)) return { format: 'native', items: parseNdjson(decodeUtf8(body)), sourceBytes: body.length };
  throw unsupportedMediaType(type, [...jsonTypes, ...ndjsonTypes, ...cloudEventTypes, ...cloudEventBatchTypes]);
}

function lineageBatch(request: FastifyRequest): IntakeBatch {
  const type = mediaType(request.headers['content-type']);
  if (!jsonTypes.has(type)) throw unsupportedMediaType(type, [...jsonTypes]);
  return { format: 'openlineage', ...openLineageToNative(asList(decodeJsonBody(rawBody(request)))) };
}

function unsupportedMediaType(type: string, supported: readonly string[]): HttpError {
  return new HttpError(415, 'unsupported_media_type', `${type ? `content type "${type}" is not supported` : 'the Content-Type header is missing'}; use one of ${supported.join(', ')}`);
}

const accepted = z.object({ accepted: z.number().int(), ids: z.array(z.string()) });
const problem = z.object({ error: z.string(), message: z.string() }).loose();
const eventJsonSchema = z.toJSONSchema(incomingEvent, { target: 'openapi-3.0', io: 'input' });
const nonEmpty = { type: 'string', minLength: 1 } as const;
/** A structured CloudEvent as the intake reads it (cloudevents-format.ts enforces the same). */
const cloudEventSchema = {
  type: 'object',
  required: ['specversion', 'id', 'source', 'type'],
  properties: {
    specversion: { type: 'string', enum: ['1.0'] },
    id: nonEmpty,
    source: nonEmpty,
    type: nonEmpty,
    subject: nonEmpty,
    time: { type: 'string', format: 'date-time' },
    datacontenttype: { type: 'string' },
    dataschema: { type: 'string' },
    data: {},
    data_base64: { type: 'string' },
  },
  additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
} as const;
/** An OpenLineage RunEvent: the fields the mapping reads (openlineage-format.ts); the rest is kept as sent. */
const runEventSchema = {
  type: 'object',
  required: ['eventTime', 'run', 'job', 'producer'],
  properties: {
    eventType: { type: 'string', enum: ['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER'] },
    eventTime: { type: 'string', format: 'date-time' },
    run: { type: 'object', required: ['runId'], properties: { runId: nonEmpty, facets: { type: 'object' } } },
    job: { type: 'object', required: ['namespace', 'name'], properties: { namespace: nonEmpty, name: nonEmpty } },
    producer: nonEmpty,
    schemaURL: { type: 'string' },
    inputs: { type: 'array', items: { type: 'object', required: ['namespace', 'name'], properties: { namespace: nonEmpty, name: nonEmpty } } },
    outputs: { type: 'array', items: { type: 'object', required: ['namespace', 'name'], properties: { namespace: nonEmpty, name: nonEmpty } } },
  },
} as const;
const ndjsonSchema = { type: 'string', description: 'One native event (JSON) per line; blank lines are ignored' } as const;
const eventsBody = {
  content: {
    'application/json': { schema: { oneOf: [eventJsonSchema, { type: 'array', items: eventJsonSchema, minItems: 1 }] } },
    ...Object.fromEntries([...ndjsonTypes].map((type) => [type, { schema: ndjsonSchema }])),
    'application/cloudevents+json': { schema: cloudEventSchema },
    'application/cloudevents-batch+json': { schema: { type: 'array', items: cloudEventSchema, minItems: 1 } },
  },
};

/** HTTP intake: native events, NDJSON and CloudEvents at /api/events; OpenLineage at /api/v1/lineage. */
export function registerIntakeRoutes(app: FastifyInstance, intake: EventIntake): void {
  const responses = {
    202: z.toJSONSchema(accepted, { target: 'openapi-3.0' }),
    ...Object.fromEntries([400, 401, 403, 413, 415, 422, 429, 503].map((status) => [status, z.toJSONSchema(problem, { target: 'openapi-3.0' })])),
  };

  app.post(
    '/api/events',
    {
      config: { scope: 'events:write' },
      schema: {
        summary: 'Send events',
        description:
          'One native event, an array of them, NDJSON (application/x-ndjson), or CloudEvents 1.0 (structured, binary ce-* headers, batch). The body may be gzip-compressed (Content-Encoding: gzip); the size limit applies to the decompressed body. ' +
          'A batch is atomic: if any event is invalid nothing is written and the 422 lists every problem. 202 only after the event log acknowledged every event.',
        tags: ['events'],
        body: eventsBody,
        response: responses,
      },
    },
    async (request, reply) => {
      const result = await intake.ingest(eventsBatch(request));
      return reply.code(202).send(result);
    },
  );

  app.post(
    '/api/v1/lineage',
    {
      config: { scope: 'events:write' },
      schema: {
        summary: 'Send OpenLineage RunEvents',
        description: 'The default endpoint of the OpenLineage HTTP transport. One RunEvent or an array; mapped to native events as documented in docs/reference/event-formats.md.',
        tags: ['events'],
        body: { content: { 'application/json': { schema: { oneOf: [runEventSchema, { type: 'array', items: runEventSchema, minItems: 1 }] } } } },
        response: responses,
      },
    },
    async (request, reply) => {
      const result = await intake.ingest(lineageBatch(request));
      return reply.code(202).send(result);
    },
  );
}
