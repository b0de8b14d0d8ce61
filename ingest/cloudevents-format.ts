import { z } from 'zod';
import { HttpError } from '../platform/http/http-error.ts';
import { deterministicEventId } from './deterministic-id.ts';
import { mapItems, type MappedItems } from './format-mapping.ts';

/**
 * CloudEvents 1.0 → native events. The mapping is documented in docs/reference/event-formats.md:
 * id = UUID v5 of (source, id), the pair CloudEvents defines as unique; event = type;
 * occurred = time; resource.id = the `vigilresource` extension, else subject, else source;
 * payload = data (an object as is; anything else under `data`).
 */
const extensionName = /^[a-z0-9]{1,20}$/;
const contextAttributes = new Set(['specversion', 'id', 'source', 'type', 'datacontenttype', 'dataschema', 'subject', 'time', 'data', 'data_base64']);

const structuredCloudEvent = z
  .object({
    specversion: z.literal('1.0', { error: 'must be "1.0" (CloudEvents 1.0)' }),
    id: z.string().min(1, 'must not be empty'),
    source: z.string().min(1, 'must not be empty'),
    type: z.string().min(1, 'must not be empty'),
    datacontenttype: z.string().optional(),
    dataschema: z.string().optional(),
    subject: z.string().min(1).optional(),
    time: z.string().optional(),
    data: z.unknown().optional(),
    data_base64: z.string().optional(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean()], { error: 'extension attributes must be strings, numbers or booleans' }))
  .superRefine((event, ctx) => {
    for (const key of Object.keys(event)) {
      if (!contextAttributes.has(key) && !extensionName.test(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'extension attribute names must be 1–20 lower-case letters or digits' });
      }
    }
    if (event.data !== undefined && event.data_base64 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['data_base64'], message: 'data and data_base64 are mutually exclusive' });
    }
  });

type StructuredCloudEvent = z.infer<typeof structuredCloudEvent>;

/** Maps a native-event path back to the CloudEvents attribute it came from, for error messages. */
const nativeToCloudEventPath: Record<string, string> = {
  event: 'type',
  occurred: 'time',
  'resource.id': 'subject',
  'resource.subject': 'subject',
  'resource.source': 'source',
  payload: 'data',
  'payload.data_base64': 'data_base64',
};

function cloudEventPath(path: string): string {
  const mapped = nativeToCloudEventPath[path];
  if (mapped) return mapped;
  // the envelope kept under payload.cloudevent: its attributes and extensions by their own names
  const envelope = /^payload\.cloudevent\.(?:extensions\.)?(.+)$/.exec(path);
  if (envelope) return envelope[1]!;
  return path.replace(/^payload/, 'data');
}

export function cloudEventsToNative(values: readonly unknown[]): MappedItems {
  return mapItems(values, structuredCloudEvent, toNative, cloudEventPath);
}

function toNative(event: StructuredCloudEvent): Record<string, unknown> {
  const extensions = Object.fromEntries(Object.entries(event).filter(([key]) => !contextAttributes.has(key)));
  const resourceId = typeof extensions.vigilresource === 'string' ? extensions.vigilresource : (event.subject ?? event.source);
  return {
    id: deterministicEventId('cloudevents', event.source, event.id),
    event: event.type,
    ...(event.time !== undefined ? { occurred: event.time } : {}),
    resource: { id: resourceId, source: event.source, ...(event.subject !== undefined ? { subject: event.subject } : {}) },
    payload: {
      ...dataAsPayload(event),
      cloudevent: {
        id: event.id,
        source: event.source,
        specversion: event.specversion,
        ...(event.datacontenttype !== undefined ? { datacontenttype: event.datacontenttype } : {}),
        ...(event.dataschema !== undefined ? { dataschema: event.dataschema } : {}),
        ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
      },
    },
  };
}

function dataAsPayload(event: StructuredCloudEvent): Record<string, unknown> {
  if (event.data_base64 !== undefined) return { data_base64: event.data_base64 };
  if (event.data === undefined) return {};
  if (event.data !== null && typeof event.data === 'object' && !Array.isArray(event.data)) return event.data as Record<string, unknown>;
  return { data: event.data };
}

/**
 * Binary content mode: the context attributes in `ce-*` headers (percent-encoded per the HTTP
 * binding), the body is the data, its media type the datacontenttype.
 */
export function binaryCloudEvent(headers: Record<string, string | string[] | undefined>, body: Buffer, contentType: string | undefined, decodeJson: (body: Buffer) => unknown, decodeText: (body: Buffer) => string): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    try {
      event[name.slice(3)] = decodeURIComponent(text);
    } catch {
      throw new HttpError(400, 'invalid_header', `header ${name} is not correctly percent-encoded`);
    }
  }
  if (contentType) event.datacontenttype = contentType;
  if (body.length > 0) {
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (/^application\/(.+\+)?json$/.test(type)) event.data = decodeJson(body);
    else if (type.startsWith('text/')) event.data = decodeText(body);
    else event.data_base64 = body.toString('base64');
  }
  return event;
}
