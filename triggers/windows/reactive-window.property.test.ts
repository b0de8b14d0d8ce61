import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { VigilEvent } from '../../schemas/event.ts';
import { initialReactiveState, reactiveAdmit, type ReactiveConfig, type ReactiveState } from './reactive-window.ts';

/**
 * The reactive window against a brute-force reference on random streams: arbitrary arrival
 * order, duplicates, late events, several keys. The reference keeps every event forever, never
 * prunes, re-sorts from scratch and scans every position; the implementation keeps pruned,
 * incrementally sorted state that is JSON round-tripped between events (as the database does).
 */
interface Ev {
  readonly id: string;
  readonly key: string;
  readonly t: number;
}

interface Firing {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly ids: string;
}

function reference(stream: readonly Ev[], config: ReactiveConfig): { firings: Firing[]; counted: number } {
  const perKey = new Map<string, { ids: Set<string>; watermark: number | null; unconsumed: Ev[] }>();
  const firings: Firing[] = [];
  let counted = 0;
  for (const ev of stream) {
    let s = perKey.get(ev.key);
    if (!s) perKey.set(ev.key, (s = { ids: new Set(), watermark: null, unconsumed: [] }));
    if (s.ids.has(ev.id)) continue;
    if (s.watermark !== null && ev.t < s.watermark - config.allowedLatenessMs) continue;
    s.ids.add(ev.id);
    counted++;
    s.watermark = s.watermark === null ? ev.t : Math.max(s.watermark, ev.t);
    s.unconsumed.push(ev);
    s.unconsumed.sort((a, b) => a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const n = config.threshold;
    for (let i = 0; i + n <= s.unconsumed.length; i++) {
      const run = s.unconsumed.slice(i, i + n);
      if (!run.includes(ev)) continue;
      if (run[n - 1]!.t - run[0]!.t <= config.withinMs) {
        s.unconsumed.splice(i, n);
        firings.push({ key: ev.key, start: run[0]!.t, end: run[n - 1]!.t, ids: run.map((r) => r.id).join(',') });
        break;
      }
    }
  }
  return { firings, counted };
}

function implementation(stream: readonly Ev[], config: ReactiveConfig): { firings: Firing[]; counted: number; late: number } {
  const states = new Map<string, ReactiveState>();
  const firings: Firing[] = [];
  let counted = 0;
  let late = 0;
  for (const ev of stream) {
    // State goes through JSON between events, as it does through the database.
    const state = JSON.parse(JSON.stringify(states.get(ev.key) ?? initialReactiveState())) as ReactiveState;
    const event: VigilEvent = { id: ev.id, occurred: new Date(ev.t).toISOString(), received: '', event: 'x', resource: { id: ev.key }, related: [], payload: {} };
    const effect = reactiveAdmit(state, event, ev.t, config, 0);
    if (effect?.kind === 'late') late++;
    if (effect === null || effect.kind === 'fire') counted++;
    if (effect?.kind === 'fire') {
      firings.push({ key: ev.key, start: effect.windowStart, end: effect.windowEnd, ids: effect.count <= 20 ? effect.events.map((e) => e.id).join(',') : '' });
    }
    states.set(ev.key, state);
  }
  return { firings, counted, late };
}

const configArb = fc.record({
  threshold: fc.integer({ min: 1, max: 5 }),
  withinMs: fc.integer({ min: 0, max: 60 }),
  allowedLatenessMs: fc.integer({ min: 0, max: 80 }),
});

/** Streams: ids from a small pool so that duplicates happen; times jittered so that order is arbitrary. */
const streamArb = fc
  .array(fc.record({ n: fc.integer({ min: 0, max: 60 }), key: fc.constantFrom('a', 'b', 'c'), t: fc.integer({ min: 0, max: 300 }) }), { maxLength: 120 })
  .map((raw) => {
    // A duplicate repeats the original (same id, key and time), as a resend does.
    const byId = new Map<string, Ev>();
    return raw.map(({ n, key, t }) => {
      const id = `id${n}`;
      const known = byId.get(id);
      if (known) return known;
      const ev = { id, key, t };
      byId.set(id, ev);
      return ev;
    });
  });

describe('reactive window (property-based, against a brute-force reference)', () => {
  it('fires the same windows, with the same events, as the reference', () => {
    fc.assert(
      fc.property(configArb, streamArb, (config, stream) => {
        const ref = reference(stream, config);
        const impl = implementation(stream, config);
        assert.deepEqual(
          impl.firings.map((f) => ({ ...f, ids: f.ids === '' ? '' : f.ids })),
          ref.firings.map((f, i) => ({ ...f, ids: impl.firings[i]?.ids === '' ? '' : f.ids })),
        );
        assert.equal(impl.counted, ref.counted);
      }),
      { numRuns: 400 },
    );
  });

  it('counts duplicates once: a stream and the same stream with every event resent fire alike', () => {
    fc.assert(
      fc.property(configArb, streamArb, fc.integer({ min: 0, max: 1000 }), (config, stream, seed) => {
        const resent = stream.flatMap((ev, i) => ((i + seed) % 2 === 0 ? [ev, ev] : [ev]));
        assert.deepEqual(implementation(resent, config).firings, implementation(stream, config).firings);
      }),
      { numRuns: 200 },
    );
  });

  it('in event-time order, never reports late events and fires floor(distinct/threshold) times at most', () => {
    fc.assert(
      fc.property(configArb, streamArb, (config, stream) => {
        const sorted = [...stream].sort((a, b) => a.t - b.t);
        const impl = implementation(sorted, config);
        assert.equal(impl.late, 0);
        const distinct = new Map<string, number>();
        for (const ev of new Map(sorted.map((e) => [e.id, e])).values()) distinct.set(ev.key, (distinct.get(ev.key) ?? 0) + 1);
        for (const [key, n] of distinct) {
          assert.ok(impl.firings.filter((f) => f.key === key).length <= Math.floor(n / config.threshold));
        }
        // A burst at one instant fires exactly floor(n / threshold) times (consumption).
        const burst = Array.from({ length: 3 * config.threshold }, (_, i) => ({ id: `b${i}`, key: 'k', t: 5 }));
        assert.equal(implementation(burst, config).firings.length, 3);
      }),
      { numRuns: 200 },
    );
  });

  it('events within the allowed lateness count in the window of their occurred time', () => {
    const config = { threshold: 2, withinMs: 10, allowedLatenessMs: 100 };
    const impl = implementation([{ id: '1', key: 'k', t: 100 }, { id: '2', key: 'k', t: 150 }, { id: '3', key: 'k', t: 95 }], config);
    assert.deepEqual(impl.firings.map((f) => [f.start, f.end]), [[95, 100]]);
    const strict = implementation([{ id: '1', key: 'k', t: 100 }, { id: '2', key: 'k', t: 300 }, { id: '3', key: 'k', t: 95 }], config);
    assert.equal(strict.late, 1);
    assert.equal(strict.firings.length, 0);
  });
});
