import assert from 'node:assert/strict';
import { test } from 'node:test';
import { action } from './action.ts';
import { duration, parseDuration } from './durations.ts';
import { validateAutomation } from './automation.ts';

test('one duration grammar: parts of a number and a unit, fractions allowed, added up', () => {
  const cases: Array<[string, number | null]> = [
    ['500ms', 500],
    ['1.5s', 1_500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['0s', 0],
    [' 5s ', 5_000],
    ['1ms', 1],
    ['2 h', null],
    ['5', null],
    ['s', null],
    ['-1s', null],
    ['1.s', null],
    ['1y', null],
    ['', null],
    ['99999999999999999999w', null],
  ];
  for (const [text, ms] of cases) {
    assert.equal(parseDuration(text), ms, text);
    assert.equal(duration.safeParse(text).success, ms !== null, `schema: ${text}`);
  }
});

test('triggers and actions take the same durations', () => {
  for (const text of ['1.5s', '1h30m', '1w', '250ms']) {
    const automation = validateAutomation({
      name: 'durations',
      trigger: { type: 'event', expect: ['job.failed'], within: text },
      actions: [{ kind: 'pause-automation', timeout: text, retry: { backoff: text, max_backoff: '1w', max_age: '1w' } }],
    });
    assert.equal(automation.ok, true, `${text}: ${JSON.stringify(automation)}`);
    assert.equal(action.safeParse({ kind: 'pause-automation', timeout: text }).success, true, text);
  }
});
