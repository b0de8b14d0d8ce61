import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionLifecycleEvent } from '../../actions/action-lifecycle-events.ts';
import type { OutboxJob } from '../../actions/outbox-job.ts';
import { unstorableEventProblems } from '../../schemas/event.ts';
import { storableText } from '../../schemas/storable.ts';

const job: OutboxJob = {
  outbox_id: '0b0c7d8e-3f4a-4e8b-9c1d-2a6f7e9b0c3d',
  firing_id: '1b0c7d8e-3f4a-4e8b-9c1d-2a6f7e9b0c3d',
  automation_name: 'a',
  phase: 'triggered',
  action_index: 0,
  action: { kind: 'call-webhook' },
  context: {
    automation: { name: 'a', description: '', tags: [] },
    firing: { id: 'f', state: 'triggered', triggered_at: '2026-01-01T00:00:00.000Z', for_each: {}, window: { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.000Z' }, count: 1, events: [] },
    event: null,
  },
};

test('an action failure whose text holds NUL or half a surrogate pair still makes a storable lifecycle event', () => {
  // a response body cut in the middle of an emoji, and a NUL from a binary answer
  const error = `HTTP 500: ${'\ud83d\ude00'.slice(0, 1)} and \u0000`;
  const event = actionLifecycleEvent('failed', job, 'call-webhook', 3, { status: 'failed', error });
  assert.deepEqual(unstorableEventProblems(event), []);
  assert.equal(event.payload.error, 'HTTP 500: \ufffd and \ufffd');
});

test('storableText leaves storable text alone and replaces only what cannot be stored', () => {
  assert.equal(storableText('tab\t \u0001 \ud83d\ude00'), 'tab\t \u0001 \ud83d\ude00');
  assert.equal(storableText('a\u0000b\udc00'), 'a\ufffdb\ufffd');
  assert.equal(storableText(null), null);
});
