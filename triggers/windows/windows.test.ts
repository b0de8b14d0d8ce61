import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, event } from '../../test/triggers/helpers.ts';
import { compoundOnEvent, initialCompoundState, type CompoundConfig } from './compound-window.ts';
import { deadlineDueAt, deadlineOnEvent, deadlineOnTimer, deadlineSchedule, initialDeadlineState, type DeadlineConfig } from './deadline-window.ts';
import { initialProactiveState, proactiveDueAt, proactiveOnEvent, proactiveOnTimer, type ProactiveConfig } from './proactive-window.ts';

const ev = (name: string, iso: string, id?: string) => event({ event: name, occurred: iso, ...(id ? { id } : {}) });
const kinds = (effects: readonly { kind: string }[]) => effects.map((e) => e.kind);

describe('proactive window', () => {
  const config: ProactiveConfig = { threshold: 1, withinMs: 3_600_000, heartbeat: false, allowedLatenessMs: 300_000 };
  it('after → expect within: no firing', () => {
    const s = initialProactiveState(config, null);
    proactiveOnEvent(s, ev('start', '2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00Z'), { after: true, expect: false }, at('2026-01-01T10:00:01Z'), config);
    assert.equal(proactiveDueAt(s), at('2026-01-01T11:00:00Z'));
    const effects = proactiveOnEvent(s, ev('done', '2026-01-01T10:30:00Z'), at('2026-01-01T10:30:00Z'), { after: false, expect: true }, at('2026-01-01T10:30:01Z'), config);
    assert.deepEqual(effects, []);
    assert.equal(proactiveDueAt(s), null);
  });
  it('missing expect fires at the due time; the late expected event resolves it', () => {
    const s = initialProactiveState(config, null);
    proactiveOnEvent(s, ev('start', '2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00Z'), { after: true, expect: false }, at('2026-01-01T10:00:00Z'), config);
    assert.deepEqual(proactiveOnTimer(s, at('2026-01-01T10:59:59Z'), config), []);
    const fired = proactiveOnTimer(s, at('2026-01-01T11:00:00Z'), config);
    assert.deepEqual(kinds(fired), ['fire']);
    assert.deepEqual(proactiveOnTimer(s, at('2026-01-01T11:00:05Z'), config), [], 'fires once');
    const resolved = proactiveOnEvent(s, ev('done', '2026-01-01T11:20:00Z'), at('2026-01-01T11:20:00Z'), { after: false, expect: true }, at('2026-01-01T11:20:00Z'), config);
    assert.deepEqual(kinds(resolved), ['resolve']);
  });
  it('an expected event that occurred after the due time while the timer lagged: fires, then resolves', () => {
    const s = initialProactiveState(config, null);
    proactiveOnEvent(s, ev('start', '2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00Z'), { after: true, expect: false }, at('2026-01-01T10:00:00Z'), config);
    const effects = proactiveOnEvent(s, ev('done', '2026-01-01T11:00:30Z'), at('2026-01-01T11:00:30Z'), { after: false, expect: true }, at('2026-01-01T11:00:31Z'), config);
    assert.deepEqual(kinds(effects), ['fire', 'resolve']);
  });
  it('heartbeat: an event at least every `within`', () => {
    const hb: ProactiveConfig = { ...config, heartbeat: true, withinMs: 600_000 };
    const s = initialProactiveState(hb, at('2026-01-01T10:00:00Z'));
    proactiveOnEvent(s, ev('beat', '2026-01-01T10:05:00Z'), at('2026-01-01T10:05:00Z'), { after: false, expect: true }, at('2026-01-01T10:05:00Z'), hb);
    assert.equal(proactiveDueAt(s), at('2026-01-01T10:15:00Z'));
    assert.deepEqual(kinds(proactiveOnTimer(s, at('2026-01-01T10:15:00Z'), hb)), ['fire']);
    assert.deepEqual(kinds(proactiveOnEvent(s, ev('beat', '2026-01-01T10:40:00Z'), at('2026-01-01T10:40:00Z'), { after: false, expect: true }, at('2026-01-01T10:40:00Z'), hb)), ['resolve']);
    assert.equal(proactiveDueAt(s), at('2026-01-01T10:50:00Z'));
  });
});

describe('deadline window (calendar SLA)', () => {
  const sla = (by: string, timezone: string, opens?: string | number, graceMs = 0, threshold = 1): DeadlineConfig => ({ threshold, graceMs, schedule: deadlineSchedule(by, timezone, opens) });

  it('an event in the grace period that saved one window does not also satisfy the next', () => {
    const config = sla('0 9 * * *', 'UTC', undefined, 10 * 60_000);
    const s = initialDeadlineState(at('2026-05-04T08:00:00Z'), config);
    // 09:05 is late for the 09:00 deadline but inside its 10-minute grace: it saves day 1.
    deadlineOnEvent(s, ev('sales.refreshed', '2026-05-04T09:05:00Z'), at('2026-05-04T09:05:00Z'), at('2026-05-04T09:05:00Z'), config);
    assert.deepEqual(deadlineOnTimer(s, at('2026-05-04T09:10:00Z'), config), [], 'day 1 met within grace');
    // No event on day 2: its window (opening at day 1's deadline) must not reuse the 09:05 event.
    assert.deepEqual(kinds(deadlineOnTimer(s, at('2026-05-05T09:10:00Z'), config)), ['fire']);
  });

  it('a grace event the closing window did not need still counts for the next window', () => {
    const config = sla('0 9 * * *', 'UTC', undefined, 10 * 60_000);
    const s = initialDeadlineState(at('2026-05-04T08:00:00Z'), config);
    deadlineOnEvent(s, ev('sales.refreshed', '2026-05-04T08:30:00Z'), at('2026-05-04T08:30:00Z'), at('2026-05-04T08:30:00Z'), config);
    deadlineOnEvent(s, ev('sales.refreshed', '2026-05-04T09:05:00Z'), at('2026-05-04T09:05:00Z'), at('2026-05-04T09:05:00Z'), config);
    assert.deepEqual(deadlineOnTimer(s, at('2026-05-04T09:10:00Z'), config), []);
    assert.deepEqual(deadlineOnTimer(s, at('2026-05-05T09:10:00Z'), config), [], 'the 09:05 event is in day 2\'s window');
  });

  it('a busy stream of expected events keeps the state bounded once the window is met', () => {
    const config = sla('0 9 * * *', 'UTC', undefined, 0, 3);
    const s = initialDeadlineState(at('2026-05-04T00:00:00Z'), config);
    for (let minute = 0; minute < 500; minute++) {
      const iso = new Date(at('2026-05-04T00:00:00Z') + minute * 60_000).toISOString();
      deadlineOnEvent(s, ev('sales.refreshed', iso), Date.parse(iso), Date.parse(iso), config);
    }
    assert.equal(s.entries.length, 3);
    assert.deepEqual(deadlineOnTimer(s, at('2026-05-04T09:00:00Z'), config), []);
  });

  it('fires at 09:00 Europe/Berlin across the spring DST change (08:00Z, then 07:00Z)', () => {
    const config = sla('0 9 * * *', 'Europe/Berlin');
    const s = initialDeadlineState(at('2026-03-27T12:00:00Z'), config);
    const fireTimes: string[] = [];
    for (let now = at('2026-03-27T12:00:00Z'); now <= at('2026-03-31T12:00:00Z'); now += 60_000) {
      for (const e of deadlineOnTimer(s, now, config)) if (e.kind === 'fire') fireTimes.push(new Date(e.deadline!).toISOString());
    }
    assert.deepEqual(fireTimes, ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-03-31T07:00:00.000Z']);
  });

  it('fires at 09:00 America/New_York across the autumn DST change (13:00Z, then 14:00Z), window opened by cron', () => {
    const config = sla('0 9 * * *', 'America/New_York', '0 0 * * *');
    const s = initialDeadlineState(at('2026-10-30T20:00:00Z'), config);
    const fired: Array<[string, string]> = [];
    for (let now = at('2026-10-30T20:00:00Z'); now <= at('2026-11-02T20:00:00Z'); now += 60_000) {
      for (const e of deadlineOnTimer(s, now, config)) {
        if (e.kind === 'fire') fired.push([new Date(e.windowStart).toISOString(), new Date(e.deadline!).toISOString()]);
      }
    }
    assert.deepEqual(fired, [
      ['2026-10-31T04:00:00.000Z', '2026-10-31T13:00:00.000Z'],
      ['2026-11-01T04:00:00.000Z', '2026-11-01T14:00:00.000Z'], // midnight EDT to 09:00 EST: a 10 h window
      ['2026-11-02T05:00:00.000Z', '2026-11-02T14:00:00.000Z'],
    ]);
  });

  it('an event in the window satisfies it; a late one resolves the missed window; grace delays the firing', () => {
    const config = sla('0 9 * * 1-5', 'Europe/Berlin', 9 * 3_600_000, 5 * 60_000);
    const s = initialDeadlineState(at('2026-03-23T06:00:00Z'), config); // Monday 07:00 Berlin (CET)
    assert.equal(deadlineDueAt(s, config), at('2026-03-23T08:05:00Z'));
    // Monday: the table lands 08:30 Berlin → no firing.
    deadlineOnEvent(s, ev('sales.refreshed', '2026-03-23T07:30:00Z'), at('2026-03-23T07:30:00Z'), at('2026-03-23T07:30:01Z'), config);
    assert.deepEqual(deadlineOnTimer(s, at('2026-03-23T08:05:00Z'), config), []);
    // Tuesday: inside grace (09:03) counts; Wednesday: nothing by 09:05 → fire; lands 10:00 → resolve.
    deadlineOnEvent(s, ev('sales.refreshed', '2026-03-24T08:03:00Z'), at('2026-03-24T08:03:00Z'), at('2026-03-24T08:03:00Z'), config);
    assert.deepEqual(deadlineOnTimer(s, at('2026-03-24T08:05:00Z'), config), []);
    const fired = deadlineOnTimer(s, at('2026-03-25T08:05:00Z'), config);
    assert.deepEqual(kinds(fired), ['fire']);
    const resolved = deadlineOnEvent(s, ev('sales.refreshed', '2026-03-25T09:00:00Z'), at('2026-03-25T09:00:00Z'), at('2026-03-25T09:00:01Z'), config);
    assert.deepEqual(kinds(resolved), ['resolve']);
    // A resend of the same event does not resolve again.
    const again = deadlineOnEvent(s, ev('sales.refreshed', '2026-03-25T09:00:00Z', resolved[0]!.kind === 'resolve' ? resolved[0]!.event.id : ''), at('2026-03-25T09:00:00Z'), at('2026-03-25T09:00:02Z'), config);
    assert.ok(!kinds(again).includes('resolve'));
  });

  it('state survives a JSON round trip (as stored in the database)', () => {
    const config = sla('0 9 * * *', 'Europe/Berlin');
    const s = JSON.parse(JSON.stringify(initialDeadlineState(at('2026-03-27T12:00:00Z'), config))) as ReturnType<typeof initialDeadlineState>;
    assert.deepEqual(kinds(deadlineOnTimer(s, at('2026-03-28T08:00:00Z'), config)), ['fire']);
  });
});

describe('compound and sequence', () => {
  const child = { threshold: 1, withinMs: 0, allowedLatenessMs: 60_000 };
  it('compound all: both children within the window fire once', () => {
    const config: CompoundConfig = { mode: 'compound', required: 2, withinMs: 600_000, children: [child, child] };
    const s = initialCompoundState(config);
    assert.deepEqual(compoundOnEvent(s, ev('a', '2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00Z'), [0], 0, config), []);
    assert.deepEqual(kinds(compoundOnEvent(s, ev('b', '2026-01-01T10:05:00Z'), at('2026-01-01T10:05:00Z'), [1], 0, config)), ['fire']);
    assert.deepEqual(compoundOnEvent(s, ev('b', '2026-01-01T10:06:00Z'), at('2026-01-01T10:06:00Z'), [1], 0, config), [], 'steps consumed');
    // Too far apart: no firing.
    assert.deepEqual(compoundOnEvent(s, ev('a', '2026-01-01T11:00:00Z'), at('2026-01-01T11:00:00Z'), [0], 0, config), []);
  });
  it('sequence: only in order', () => {
    const config: CompoundConfig = { mode: 'sequence', required: 2, withinMs: 600_000, children: [child, child] };
    const s = initialCompoundState(config);
    assert.deepEqual(compoundOnEvent(s, ev('b', '2026-01-01T10:00:00Z'), at('2026-01-01T10:00:00Z'), [1], 0, config), []);
    assert.deepEqual(compoundOnEvent(s, ev('a', '2026-01-01T10:01:00Z'), at('2026-01-01T10:01:00Z'), [0], 0, config), []);
    assert.deepEqual(kinds(compoundOnEvent(s, ev('b', '2026-01-01T10:02:00Z'), at('2026-01-01T10:02:00Z'), [1], 0, config)), ['fire']);
  });
});
