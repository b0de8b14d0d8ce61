import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render, renderJson, templateScope } from '../../actions/templates.ts';
import { action, validateTemplates, wholeExpressionOf } from '../../schemas/action.ts';
import { automationJsonSchema } from '../../schemas/automation-reference.ts';
import { parseDuration } from '../../schemas/durations.ts';
import { firingContext } from './harness.ts';

describe('action schema', () => {
  test('fills in defaults: retry policy, timeout, method', () => {
    const parsed = action.parse({ kind: 'call-webhook', url: 'https://example.com/hook' });
    assert.equal(parsed.kind, 'call-webhook');
    if (parsed.kind !== 'call-webhook') return;
    assert.equal(parsed.method, 'POST');
    assert.equal(parsed.timeout, '10s');
    assert.deepEqual(parsed.retry, { attempts: 5, backoff: '5s', max_backoff: '10m', max_age: '1h', jitter: 0.2 });
  });

  test('rejects unknown kinds and unknown fields', () => {
    assert.equal(action.safeParse({ kind: 'send-fax', to: '123' }).success, false);
    const result = action.safeParse({ kind: 'call-webhook', url: 'https://example.com', verb: 'POST' });
    assert.equal(result.success, false);
  });

  test('rejects invalid Liquid at save time, with the path', () => {
    assert.deepEqual(validateTemplates({ kind: 'send-notification', connection: 'slack', channel: '#x', text: 'ok {{ event.resource.id }}' }), []);
    const errors = validateTemplates({ kind: 'send-notification', connection: 'slack', channel: '#x', text: 'broken {{ event.resource.id ' });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^text: invalid Liquid template/);
    const nested = validateTemplates({ kind: 'call-webhook', url: 'https://x', body: { a: [{ b: '{% if %}' }] } });
    assert.match(nested[0]!, /^body\.a\.0\.b: invalid Liquid template/);
  });

  test('checks templates in tags and typed JSON fields at save time, with the path', () => {
    assert.match(validateTemplates({ kind: 'run-deployment', connection: 'p', deployment: 'd', tags: ['ok', '{{ event.resource.env '] })[0]!, /^tags\.1: invalid Liquid template/);
    assert.match(validateTemplates({ kind: 'run-deployment', connection: 'p', deployment: 'd', parameters: { n: '{{ event.payload.n | nosuch }}' } })[0]!, /^parameters\.n: invalid Liquid template/);
    assert.match(validateTemplates({ kind: 'emit-event', event: 'x', resource: { id: 'x' }, payload: { a: ['{{ }'] } })[0]!, /^payload\.a\.0: invalid Liquid template/);
  });

  test('marks template fields in the JSON Schema', () => {
    const schema = JSON.stringify(automationJsonSchema());
    const marks: string[] = schema.match(/"x-vigil-template":"(text|json)"/g) ?? [];
    assert.ok(marks.includes('"x-vigil-template":"json"'));
    assert.ok(marks.includes('"x-vigil-template":"text"'));
  });

  test('rejects unknown filters and file-system tags', () => {
    assert.match(validateTemplates({ kind: 'emit-event', event: 'x', resource: { id: '{{ "a" | shell }}' } })[0]!, /resource\.id: invalid Liquid template/);
    assert.match(validateTemplates({ kind: 'emit-event', event: '{% include "/etc/passwd" %}', resource: { id: 'x' } })[0]!, /not available/);
    assert.match(validateTemplates({ kind: 'emit-event', event: '{% render "x" %}', resource: { id: 'x' } })[0]!, /not available/);
  });

  test('rejects bad durations and retry fields', () => {
    assert.equal(action.safeParse({ kind: 'pause-automation', retry: { attempts: 0 } }).success, false);
    assert.equal(action.safeParse({ kind: 'pause-automation', timeout: '5 minutes' }).success, false);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('2 h'), null);
    assert.equal(parseDuration('1h30m'), 5_400_000, 'parts add up');
    assert.equal(parseDuration('1w'), 604_800_000);
    assert.equal(parseDuration(' 5s '), 5_000, 'spaces around the whole are ignored');
    assert.equal(action.safeParse({ kind: 'pause-automation', timeout: '1m30s' }).success, true, 'actions take the grammar triggers take');
  });
});

describe('templates', () => {
  const scope = templateScope(firingContext());

  test('render the firing context: event, automation, firing, for_each, window', async () => {
    assert.equal(await render('{{ event.resource.id }}|{{ automation.name }}|{{ for_each["resource.id"] }}|{{ firing.count }}', scope), 'airflow.dag.sales_refresh|sales-sla|airflow.dag.sales_refresh|1');
    assert.match(await render('{{ firing.deadline | date: "%Y-%m-%d" }}', scope), /^\d{4}-\d{2}-\d{2}$/);
    assert.match(await render('{{ window.start }}', scope), /^\d{4}-/);
    assert.equal(await render('{{ event.payload | json }}', scope), '{"duration_s":812,"owner":"data-eng"}');
  });

  test('are sandboxed: no prototype properties', async () => {
    assert.equal(await render('{{ automation.constructor }}{{ event.__proto__ }}{{ automation.__proto__.toString }}', scope), '');
  });

  test('renderJson renders strings at any depth and keeps other values', async () => {
    assert.deepEqual(await renderJson({ a: ['{{ automation.name }}', 3, true, null], b: { c: '{{ event.payload.owner }}' } }, scope), {
      a: ['sales-sla', 3, true, null],
      b: { c: 'data-eng' },
    });
  });

  test('renderJson keeps the JSON type of a value that is exactly one expression', async () => {
    const typed = templateScope(firingContext({ event: { payload: { n: 7, ok: false, list: [1, 'x'], obj: { a: { b: 2 } }, none: null, text: '[3,4]' } } }));
    assert.deepEqual(
      await renderJson(
        {
          n: '{{ event.payload.n }}',
          n_plus: '  {{- event.payload.n | plus: 1 -}}  ',
          ok: '{{ event.payload.ok }}',
          list: '{{ event.payload.list }}',
          obj: '{{ event.payload.obj }}',
          none: '{{ event.payload.none }}',
          missing: '{{ event.payload.missing }}',
          label: '{{ event.resource.id }}',
          mixed: 'n={{ event.payload.n }}',
          two: '{{ event.payload.n }}{{ event.payload.n }}',
          as_text: '{{ event.payload.obj | json }}',
          parsed: '{{ event.payload.text | parse_json }}',
          nested: [{ deep: '{{ event.payload.list }}' }],
          literal: 5,
        },
        typed,
      ),
      {
        n: 7,
        n_plus: 8,
        ok: false,
        list: [1, 'x'],
        obj: { a: { b: 2 } },
        none: null,
        missing: null,
        label: 'airflow.dag.sales_refresh',
        mixed: 'n=7',
        two: '77',
        as_text: '{"a":{"b":2}}',
        parsed: [3, 4],
        nested: [{ deep: [1, 'x'] }],
        literal: 5,
      },
    );
  });

  test('render (text fields) still gives text, never "[object Object]"', async () => {
    assert.equal(await render('{{ event.payload }}', scope), '{"duration_s":812,"owner":"data-eng"}');
  });

  test('wholeExpressionOf finds exactly one output tag', () => {
    assert.equal(wholeExpressionOf('{{ a.b }}'), 'a.b');
    assert.equal(wholeExpressionOf(' {{- a | plus: 1 -}} '), 'a | plus: 1');
    assert.equal(wholeExpressionOf('x{{ a }}'), undefined);
    assert.equal(wholeExpressionOf('{{ a }} {{ b }}'), undefined);
    assert.equal(wholeExpressionOf('{% if a %}{{ a }}{% endif %}'), undefined);
  });

  test('a null event renders as empty', async () => {
    assert.equal(await render('[{{ event.resource.id }}]', templateScope(firingContext({ event: null }))), '[]');
  });
});
