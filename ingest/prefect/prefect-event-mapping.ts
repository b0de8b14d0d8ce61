import { incomingEvent, type IncomingEvent } from '../../schemas/event.ts';

/*
 * A Prefect event (prefect.events.Event, as the server's /api/events/out stream and
 * /api/events/filter send it) as a Vigil event:
 *
 *   Prefect                                   Vigil
 *   id (UUID)                                 id (the same: a resend is deduplicated)
 *   occurred                                  occurred
 *   event  "prefect.flow-run.Failed"          event (the same name)
 *   resource {"prefect.resource.id": …, …}    resource: every label kept as it is, plus
 *                                               id   = prefect.resource.id
 *                                               name = prefect.resource.name (when present)
 *   related [{… "prefect.resource.role"}]     related: every label kept, plus id, role (= prefect.resource.role), name
 *   payload                                   payload
 *   follows                                   follows
 *
 * `received` is Vigil's own (the time it appended the event).
 */

export interface PrefectEvent {
  readonly id: string;
  readonly occurred: string;
  readonly event: string;
  readonly resource: Record<string, string>;
  readonly related?: ReadonlyArray<Record<string, string>>;
  readonly payload?: Record<string, unknown>;
  readonly follows?: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function labelsOf(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(value)) {
    if (typeof label !== 'string') return undefined;
    labels[key] = label;
  }
  return labels;
}

export type MappedEvent = { readonly ok: true; readonly id: string; readonly occurred: Date; readonly event: IncomingEvent } | { readonly ok: false; readonly id?: string; readonly reason: string };

/** Maps one Prefect event; a message that is not one, or that Vigil cannot take, gives the reason. */
export function vigilEventOf(value: unknown): MappedEvent {
  if (!isRecord(value)) return { ok: false, reason: 'not a JSON object' };
  const id = typeof value.id === 'string' ? value.id : undefined;
  const resource = labelsOf(value.resource);
  const occurred = typeof value.occurred === 'string' ? new Date(value.occurred) : undefined;
  if (!id || !resource || typeof value.event !== 'string' || !occurred || Number.isNaN(occurred.getTime())) {
    return { ok: false, ...(id ? { id } : {}), reason: 'not a Prefect event (id, occurred, event and resource are required)' };
  }
  const resourceId = resource['prefect.resource.id'];
  if (!resourceId) return { ok: false, id, reason: 'the resource has no prefect.resource.id' };
  const related: Array<Record<string, string> & { id: string; role: string }> = [];
  for (const item of Array.isArray(value.related) ? value.related : []) {
    const labels = labelsOf(item);
    const relatedId = labels?.['prefect.resource.id'];
    const role = labels?.['prefect.resource.role'];
    if (!labels || !relatedId || !role) return { ok: false, id, reason: 'a related resource lacks prefect.resource.id or prefect.resource.role' };
    related.push({ ...labels, id: relatedId, role, ...(labels['prefect.resource.name'] !== undefined && labels.name === undefined ? { name: labels['prefect.resource.name'] } : {}) });
  }
  const candidate = {
    id,
    occurred: occurred.toISOString(),
    event: value.event,
    resource: { ...resource, id: resourceId, ...(resource['prefect.resource.name'] !== undefined && resource.name === undefined ? { name: resource['prefect.resource.name'] } : {}) },
    related,
    payload: isRecord(value.payload) ? value.payload : {},
    ...(typeof value.follows === 'string' ? { follows: value.follows } : {}),
  };
  const parsed = incomingEvent.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, id, reason: `Vigil cannot take it: ${issue ? `${issue.path.join('.') || '(event)'}: ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, id, occurred, event: parsed.data };
}
