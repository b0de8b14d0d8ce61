import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, automation, event } from '../test/triggers/helpers.ts';
import { candidateEventNames, DryRunLimitError, dryRunEvents, historyReplayStart, startDryRun } from './dry-run.ts';

const ev = (name: string, iso: string, extra: { id?: string; resource?: string } = {}) =>
  event({ event: name, occurred: iso, ...(extra.id ? { id: extra.id } : {}), resource: { id: extra.resource ?? 'dag.sales' } });

describe('dry run', () => {
  it('reactive: threshold 3 within 1h over 7 events fires twice, at the events that completed each window', () => {
    const a = automation({ trigger: { type: 'event', expect: ['job.failed'], threshold: 3, within: '1h' } });
    const times = ['10:00', '10:10', '10:20', '10:30', '10:40', '10:50', '12:00'];
    const events = times.map((time, i) => ev('job.failed', `2026-01-05T${time}:00Z`, { id: `f${i}` }));
    const result = dryRunEvents(a, [...events].reverse()); // any order in the list: replayed by occurred time
    assert.equal(result.fired, 2);
    assert.equal(result.resolved, 0);
    assert.deepEqual(
      result.firings.map((f) => [f.state, f.at, f.count, f.event_ids]),
      [
        ['triggered', '2026-01-05T10:20:00.000Z', 3, ['f0', 'f1', 'f2']],
        ['triggered', '2026-01-05T10:50:00.000Z', 3, ['f3', 'f4', 'f5']],
      ],
    );
    assert.deepEqual(result.firings[0]!.window, { start: '2026-01-05T10:00:00.000Z', end: '2026-01-05T10:20:00.000Z' });
    assert.equal(result.events, 7);
    assert.equal(result.matched, 7);
    assert.equal(result.explanations.length, 7);
    assert.equal(result.explanations[0]!.event_id, 'f0', 'explanations follow the replay order');
    assert.ok(result.explanations.every((e) => e.matched));
    assert.deepEqual(result.clock, { start: '2026-01-05T10:00:00.000Z', end: '2026-01-05T12:00:00.000Z' });
  });

  it('reactive per for_each key, duplicates counted once, non-matching events explained', () => {
    const a = automation({ trigger: { type: 'event', expect: ['job.failed'], for_each: ['resource.id'], threshold: 2, within: '10m' } });
    const result = dryRunEvents(a, [
      ev('job.failed', '2026-01-05T10:00:00Z', { id: 'a1', resource: 'dag.a' }),
      ev('job.failed', '2026-01-05T10:01:00Z', { id: 'b1', resource: 'dag.b' }),
      ev('job.failed', '2026-01-05T10:02:00Z', { id: 'a1', resource: 'dag.a' }),
      ev('job.succeeded', '2026-01-05T10:03:00Z', { id: 's1', resource: 'dag.a' }),
      ev('job.failed', '2026-01-05T10:04:00Z', { id: 'b2', resource: 'dag.b' }),
    ]);
    assert.equal(result.fired, 1);
    assert.deepEqual(result.firings[0]!.for_each, { 'resource.id': 'dag.b' });
    assert.equal(result.duplicates, 1);
    const miss = result.explanations.find((e) => e.event_id === 's1')!;
    assert.equal(miss.matched, false);
    assert.ok(miss.clauses.some((c) => c.clause === 'trigger.expect' && !c.matched));
  });

  it('deadline SLA: a day without the event fires at the deadline, the late event resolves it', () => {
    const a = automation({
      trigger: { type: 'deadline', expect: ['sales.refreshed'], by: '0 9 * * *', timezone: 'Europe/Berlin' },
      actions_on_resolve: [{ kind: 'emit-event', event: 'sla.recovered', resource: { id: 'x' } }],
    });
    const result = dryRunEvents(a, [
      ev('sales.refreshed', '2026-03-02T07:00:00Z', { id: 'mon' }), // Monday 08:00 Berlin: in time
      ev('sales.refreshed', '2026-03-03T10:00:00Z', { id: 'tue-late' }), // Tuesday 11:00 Berlin: missed 09:00
    ]);
    assert.equal(result.fired, 1);
    assert.equal(result.resolved, 1);
    const [firing] = result.firings;
    assert.equal(firing!.state, 'resolved');
    assert.equal(firing!.deadline, '2026-03-03T08:00:00.000Z');
    assert.equal(firing!.at, '2026-03-03T08:00:00.000Z', 'fired at the deadline (virtual clock), not at the late event');
    assert.equal(firing!.resolved_at, '2026-03-03T10:00:00.000Z');
    assert.equal(firing!.resolved_by, 'tue-late');
    assert.deepEqual(firing!.window, { start: '2026-03-02T08:00:00.000Z', end: '2026-03-03T08:00:00.000Z' });
    // The clock ran on to the next deadline, where the late event satisfied Wednesday's window.
    assert.equal(result.clock.end, '2026-03-04T08:00:00.000Z');
  });

  it('deadline over a range: every missed window inside it fires; an explicit end bounds the clock', () => {
    const a = automation({ trigger: { type: 'deadline', expect: ['sales.refreshed'], by: '0 9 * * 1-5', timezone: 'UTC', grace: '5m' } });
    const run = startDryRun(a, { start: at('2026-03-02T00:00:00Z') }); // Monday
    run.add(ev('sales.refreshed', '2026-03-02T08:30:00Z')); // Monday satisfied
    const result = run.finish(at('2026-03-06T09:04:59Z')); // Friday's deadline + grace not reached
    assert.deepEqual(
      result.firings.map((f) => f.deadline),
      ['2026-03-03T09:00:00.000Z', '2026-03-04T09:00:00.000Z', '2026-03-05T09:00:00.000Z'],
    );
    assert.deepEqual(result.firings.map((f) => f.at), ['2026-03-03T09:05:00.000Z', '2026-03-04T09:05:00.000Z', '2026-03-05T09:05:00.000Z']);
  });

  it('proactive after → expect: a missing success fires `within` after the start, per key', () => {
    const a = automation({ trigger: { type: 'event', posture: 'proactive', after: ['job.started'], expect: ['job.succeeded'], for_each: ['resource.id'], within: '1h' } });
    const result = dryRunEvents(a, [
      ev('job.started', '2026-01-05T10:00:00Z', { resource: 'dag.a' }),
      ev('job.started', '2026-01-05T10:05:00Z', { resource: 'dag.b' }),
      ev('job.succeeded', '2026-01-05T10:30:00Z', { resource: 'dag.b' }),
    ]);
    assert.equal(result.fired, 1);
    assert.deepEqual(result.firings[0]!.for_each, { 'resource.id': 'dag.a' });
    assert.equal(result.firings[0]!.at, '2026-01-05T11:00:00.000Z');
    assert.equal(result.firings[0]!.state, 'triggered');
    assert.equal(result.clock.end, '2026-01-05T11:30:00.000Z', 'last event + within');
  });

  it('heartbeat without for_each starts with the run; a late beat resolves', () => {
    const a = automation({ trigger: { type: 'event', posture: 'proactive', expect: ['worker.heartbeat'], within: '10m' } });
    const run = startDryRun(a, { start: at('2026-01-05T10:00:00Z') });
    run.add(ev('worker.heartbeat', '2026-01-05T10:05:00Z'));
    run.add(ev('worker.heartbeat', '2026-01-05T10:40:00Z', { id: 'beat-late' }));
    const result = run.finish(at('2026-01-05T10:45:00Z'));
    assert.equal(result.fired, 1);
    assert.equal(result.firings[0]!.at, '2026-01-05T10:15:00.000Z');
    assert.equal(result.firings[0]!.resolved_by, 'beat-late');
  });

  it('sequence: only children in order fire', () => {
    const a = automation({
      trigger: { type: 'sequence', within: '30m', for_each: ['resource.id'], triggers: [{ type: 'event', expect: ['a'] }, { type: 'event', expect: ['b'] }] },
    });
    const result = dryRunEvents(a, [ev('b', '2026-01-05T10:00:00Z'), ev('a', '2026-01-05T10:01:00Z'), ev('b', '2026-01-05T10:02:00Z')]);
    assert.equal(result.fired, 1);
  });

  it('history replays warm up: from a window before since, or when the first deadline window opened', () => {
    const since = at('2026-03-04T00:00:00Z');
    assert.equal(historyReplayStart(automation({ trigger: { type: 'event', expect: ['x'], threshold: 3, within: '1h' } }), since), since - 3_600_000);
    assert.equal(historyReplayStart(automation({ trigger: { type: 'event', expect: ['x'] } }), since), since);
    assert.equal(
      historyReplayStart(automation({ trigger: { type: 'compound', within: '30m', triggers: [{ type: 'event', expect: ['a'] }, { type: 'event', expect: ['b'], threshold: 2, within: '10m' }] } }), since),
      since - 40 * 60_000,
    );
    assert.equal(historyReplayStart(automation({ trigger: { type: 'deadline', expect: ['x'], by: '0 9 * * *' } }), since), at('2026-03-03T09:00:00Z'));
    assert.equal(historyReplayStart(automation({ trigger: { type: 'deadline', expect: ['x'], by: '0 9 * * *', opens: '0 6 * * *' } }), since), since, 'a window opening after since');
  });

  it('reportFrom: warm-up events shape the windows; only later firings, resolutions and events are reported', () => {
    const a = automation({ trigger: { type: 'event', expect: ['job.failed'], threshold: 3, within: '1h' } });
    const run = startDryRun(a, { start: at('2026-01-05T09:00:00Z'), reportFrom: at('2026-01-05T10:15:00Z') });
    for (const time of ['10:00', '10:05', '10:10', '10:11', '10:12', '10:20']) run.add(ev('job.failed', `2026-01-05T${time}:00Z`, { id: time }));
    const result = run.finish(at('2026-01-05T11:00:00Z'));
    assert.equal(result.fired, 1, 'the firing at 10:10 is before the reported range');
    assert.deepEqual(result.firings[0]!.event_ids, ['10:11', '10:12', '10:20']);
    assert.deepEqual(result.explanations.map((e) => e.event_id), ['10:20']);
    assert.equal(result.events, 1);
    assert.equal(result.clock.reported_from, '2026-01-05T10:15:00.000Z');

    const sla = automation({ trigger: { type: 'deadline', expect: ['x'], by: '0 9 * * *' } });
    const late = startDryRun(sla, { start: at('2026-01-04T09:00:00Z'), reportFrom: at('2026-01-05T10:00:00Z') });
    late.add(ev('x', '2026-01-05T11:00:00Z'));
    const lateResult = late.finish(at('2026-01-05T12:00:00Z'));
    assert.deepEqual([lateResult.fired, lateResult.resolved], [0, 0], 'a miss before the range resolving inside it is not reported');
  });

  it('candidate event names for a history query', () => {
    assert.deepEqual(candidateEventNames(automation({ trigger: { type: 'event', posture: 'proactive', after: ['a.started'], expect: ['a.*'], within: '1h' } })), ['a.*', 'a.started']);
    assert.equal(candidateEventNames(automation({ trigger: { type: 'event', expect: ['!a.*'] } })), null);
    assert.equal(candidateEventNames(automation({ trigger: { type: 'event', expect: ['*'] } })), null);
  });

  it('limits: explanations and listed firings are capped (counts stay exact); too many timer steps is an error', () => {
    const a = automation({ trigger: { type: 'event', expect: ['x'] } });
    const events = Array.from({ length: 5 }, (_, i) => ev('x', `2026-01-05T10:0${i}:00Z`));
    const result = dryRunEvents(a, events, { maxExplanations: 2, maxListedFirings: 3 });
    assert.equal(result.fired, 5);
    assert.equal(result.firings.length, 3);
    assert.equal(result.firings_not_listed, 2);
    assert.equal(result.explanations.length, 2);
    assert.equal(result.explanations_not_listed, 3);

    const everyMinute = automation({ trigger: { type: 'deadline', expect: ['x'], by: '* * * * *' } });
    const run = startDryRun(everyMinute, { start: at('2026-01-05T00:00:00Z'), maxTimerSteps: 100 });
    assert.throws(() => run.finish(at('2026-01-06T00:00:00Z')), DryRunLimitError);
  });
});
