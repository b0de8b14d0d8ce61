import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, tempFiles, unreachableUrl } from './run-cli.ts';

const good = {
  name: 'sales-sla',
  description: 'sales refreshed by 09:00 Berlin',
  trigger: { type: 'deadline', expect: ['dbt.model.refreshed'], match: { id: 'dbt.model.sales' }, by: '0 9 * * 1-5', timezone: 'Europe/Berlin' },
  actions: [{ kind: 'call-webhook', url: 'https://hooks.example.com/vigil', body: '{{ automation.name }} missed' }],
};
const failures = { name: 'dag-failures', trigger: { type: 'event', expect: ['airflow.dag_run.failed'], for_each: ['resource.id'], threshold: 3, within: '1h' } };

describe('vigil validate (local, no server)', () => {
  let files: Awaited<ReturnType<typeof tempFiles>>;
  before(async () => {
    files = await tempFiles({
      'good/sales.json': JSON.stringify(good, null, 2),
      'good/nested/failures.json': JSON.stringify([failures]),
      'good/notes.txt': 'not an automation',
      'bad/invalid.json': JSON.stringify([failures, { ...failures, name: 'bad-one', trigger: { ...failures.trigger, within: 'soon', expect: ['a..b'] }, colour: 'red' }]),
      'bad/broken.json': '{\n  "name": "broken",\n  "trigger": {\n}\n',
      'dupes/a.json': JSON.stringify(failures),
      'dupes/b.json': JSON.stringify({ ...failures, description: 'same name' }),
      'scalar.json': '42',
    });
  });
  after(async () => {
    await files.remove();
  });

  test('valid files and directories: exit 0, one line per automation', async () => {
    const result = await runCli(['validate', '-f', files.path('good')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, 'both .json files under the directory, recursively; other files ignored');
    assert.match(lines[0]!, /^valid +dag-failures +.*good\/nested\/failures\.json\[0\]$/);
    assert.match(lines[1]!, /^valid +sales-sla +.*good\/sales\.json$/);

    const json = await runCli(['validate', '-f', files.path('good/sales.json'), '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), { valid: true, automations: [{ name: 'sales-sla', file: files.path('good/sales.json') }], errors: [] });
  });

  test('invalid automations: exit 1, every problem with its file, item, name and path', async () => {
    const result = await runCli(['validate', '-f', files.path('bad/invalid.json')]);
    assert.equal(result.code, 1);
    const file = files.path('bad/invalid.json');
    const lines = result.stderr.trim().split('\n');
    assert.ok(lines.includes(`${file}[1] (bad-one): trigger.within: must be a duration such as "30s", "5m", "2h", "1d" or "1h30m"`), result.stderr);
    assert.ok(lines.some((line) => line.startsWith(`${file}[1] (bad-one): trigger.expect.0: `)), result.stderr);
    assert.ok(lines.includes(`${file}[1] (bad-one): unknown field: colour`), result.stderr);
    assert.match(lines.at(-1)!, /^vigil: 3 problems in the automation files$/);
    assert.match(result.stdout, /valid +dag-failures/, 'the valid item of the same file is still listed');
  });

  test('malformed JSON, missing files, non-objects and duplicate names are invalid input too', async () => {
    const broken = await runCli(['validate', '-f', files.path('bad/broken.json')]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /broken\.json: invalid JSON: .*\(line 5, column 1\)/);

    const missing = await runCli(['validate', '-f', files.path('nowhere.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nowhere\.json: no such file or directory/);

    const scalar = await runCli(['validate', '-f', files.path('scalar.json')]);
    assert.equal(scalar.code, 1);
    assert.match(scalar.stderr, /scalar\.json: must be an automation object or an array of them/);

    const dupes = await runCli(['validate', '-f', files.path('dupes')]);
    assert.equal(dupes.code, 1);
    assert.match(dupes.stderr, /b\.json \(dag-failures\): name: is also used by .*a\.json; names must be unique/);

    const json = await runCli(['validate', '-f', files.path('bad/invalid.json'), '--json']);
    assert.equal(json.code, 1);
    const parsed = JSON.parse(json.stdout) as { valid: boolean; errors: Array<{ index: number; name: string; path: string }> };
    assert.equal(parsed.valid, false);
    assert.ok(parsed.errors.some((error) => error.index === 1 && error.name === 'bad-one' && error.path === 'trigger.within'));
  });

  test('usage errors exit 2; validation needs no server (apply fails on bad files before connecting)', async () => {
    const noFile = await runCli(['validate']);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /required option '-f, --file <paths...>' not specified/);

    const unknown = await runCli(['validate', '-f', files.path('good'), '--frobnicate']);
    assert.equal(unknown.code, 2);

    const apply = await runCli(['apply', '-f', files.path('bad/invalid.json')], { env: { VIGIL_URL: await unreachableUrl(), VIGIL_API_KEY: 'unused' } });
    assert.equal(apply.code, 1, apply.stderr);
    assert.match(apply.stderr, /^vigil: 3 problems in the automation files; nothing was applied$/m);
    assert.doesNotMatch(apply.stderr, /cannot reach/);
  });
});
