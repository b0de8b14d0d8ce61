import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { vigilEventOf } from './prefect-event-mapping.ts';

const prefectEvent = {
  id: '01a24967-73ac-7d5d-9344-732cd3ce85e3',
  occurred: '2026-12-06T03:30:46.316696Z',
  event: 'prefect.flow-run.Failed',
  resource: { 'prefect.resource.id': 'prefect.flow-run.e8a0', 'prefect.resource.name': 'married-jaguarundi', 'prefect.state-type': 'FAILED' },
  related: [{ 'prefect.resource.id': 'prefect.flow.5916', 'prefect.resource.role': 'flow', 'prefect.resource.name': 'ingest-orders' }, { 'prefect.resource.id': 'prefect.tag.x', 'prefect.resource.role': 'tag' }],
  payload: { validated_state: { type: 'FAILED' } },
  follows: '01a24967-7380-7ae0-a1c0-1922b6bf39b5',
  received: '2026-12-06T03:30:46.393Z',
};

describe('Prefect event mapping', () => {
  test('keeps the name, every label, related resources, payload, follows and the id; adds id, name and role', () => {
    const mapped = vigilEventOf(prefectEvent);
    assert.ok(mapped.ok);
    assert.deepEqual(mapped.event, {
      id: prefectEvent.id,
      occurred: '2026-12-06T03:30:46.316Z',
      event: 'prefect.flow-run.Failed',
      resource: { ...prefectEvent.resource, id: 'prefect.flow-run.e8a0', name: 'married-jaguarundi' },
      related: [
        { ...prefectEvent.related[0], id: 'prefect.flow.5916', role: 'flow', name: 'ingest-orders' },
        { ...prefectEvent.related[1], id: 'prefect.tag.x', role: 'tag' },
      ],
      payload: prefectEvent.payload,
      follows: prefectEvent.follows,
    });
  });

  test('gives the reason for what it cannot take', () => {
    assert.deepEqual(vigilEventOf('x'), { ok: false, reason: 'not a JSON object' });
    assert.match((vigilEventOf({ ...prefectEvent, resource: { a: 'b' } }) as { reason: string }).reason, /no prefect.resource.id/);
    assert.match((vigilEventOf({ ...prefectEvent, related: [{ 'prefect.resource.id': 'x' }] }) as { reason: string }).reason, /lacks .*role/);
    assert.match((vigilEventOf({ ...prefectEvent, event: 'has spaces in it' }) as { reason: string }).reason, /^Vigil cannot take it: event:/);
    assert.match((vigilEventOf({ ...prefectEvent, occurred: 'yesterday' }) as { reason: string }).reason, /not a Prefect event/);
  });
});
