import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from '../../support/wait-for.ts';
import { type Problem, type Stored, assertProblem, call, failures, harness, notify, salesSla, useAutomationsApi } from './automations-api.ts';
import { notifyChannels } from '../../../platform/ports/notify-channels.ts';

/* The automations API: create, read, upsert, patch and delete. */

useAutomationsApi();

describe('automations: create, read, upsert, patch, delete', () => {
  test('PUT creates (201), repeats without a change (200, changed false, no version bump, no NOTIFY), and replaces (version + 1)', async () => {
    const notified: string[] = [];
    const unlisten = await harness.database.db.listen(notifyChannels.automations, (payload) => notified.push(payload));
    try {
      const document = { description: 'three failures in an hour', tags: ['team-data'], trigger: failures, actions: [notify('{{ automation.name }} fired')] };
      const created = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', document);
      assert.equal(created.status, 201);
      assert.deepEqual([created.body.created, created.body.changed], [true, true]);
      const stored = created.body.automation;
      assert.equal(stored.name, 'job-failures', 'the name defaults to the path');
      assert.equal(stored.version, 1);
      assert.equal(stored.enabled, true);
      assert.deepEqual(stored.actions_on_resolve, []);
      assert.equal((stored.trigger as { posture: string }).posture, 'reactive', 'defaults are filled in');
      assert.ok(!Number.isNaN(Date.parse(stored.created_at)) && !Number.isNaN(Date.parse(stored.updated_at)));

      const again = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', { ...document, name: 'job-failures' });
      assert.equal(again.status, 200);
      assert.deepEqual([again.body.created, again.body.changed], [false, false]);
      assert.equal(again.body.automation.version, 1);
      assert.equal(again.body.automation.updated_at, stored.updated_at);

      const changed = await call<{ automation: Stored; created: boolean; changed: boolean }>('PUT', '/api/automations/job-failures', { ...document, description: 'changed' });
      assert.equal(changed.status, 200);
      assert.deepEqual([changed.body.created, changed.body.changed], [false, true]);
      assert.equal(changed.body.automation.version, 2);
      assert.equal(changed.body.automation.description, 'changed');

      // Notifications arrive in commit order: once the replacement's is in, the unchanged PUT would have been seen.
      await waitFor('two notifications', () => notified.length >= 2);
      assert.deepEqual(notified, ['job-failures', 'job-failures'], 'one NOTIFY for the creation, one for the change, none for the repeat');
    } finally {
      await unlisten();
    }
  });

  test('GET one and the list, filtered by tag and enabled', async () => {
    const one = await call<Stored>('GET', '/api/automations/job-failures');
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'job-failures');
    assert.deepEqual(Object.keys(one.body).sort(), ['actions', 'actions_on_resolve', 'created_at', 'description', 'enabled', 'name', 'tags', 'trigger', 'updated_at', 'version']);

    assert.equal((await call('PUT', '/api/automations/paused-sla', { trigger: salesSla, enabled: false, tags: ['sla'] })).status, 201);
    const all = await call<{ automations: Stored[] }>('GET', '/api/automations');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.automations.map((a) => a.name), ['job-failures', 'paused-sla']);
    const tagged = await call<{ automations: Stored[] }>('GET', '/api/automations?tag=sla');
    assert.deepEqual(tagged.body.automations.map((a) => a.name), ['paused-sla']);
    const enabled = await call<{ automations: Stored[] }>('GET', '/api/automations?enabled=true');
    assert.deepEqual(enabled.body.automations.map((a) => a.name), ['job-failures']);
    const paused = await call<{ automations: Stored[] }>('GET', '/api/automations?enabled=false&tag=sla');
    assert.deepEqual(paused.body.automations.map((a) => a.name), ['paused-sla']);
    assert.deepEqual((await call<{ automations: Stored[] }>('GET', '/api/automations?tag=nothing')).body.automations, []);
  });

  test('POST creates (201 + Location) and never replaces (409 already_exists)', async () => {
    const document = { name: 'created-by-post', trigger: { type: 'event', expect: ['x.happened'] } };
    const created = await call<Stored>('POST', '/api/automations', document);
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/api/automations/created-by-post');
    assert.equal(created.body.name, 'created-by-post');
    assert.equal(created.body.version, 1);
    const conflict = await call('POST', '/api/automations', { ...document, description: 'another' });
    assertProblem(conflict, 409, 'already_exists');
    assert.equal((await call<Stored>('GET', '/api/automations/created-by-post')).body.description, '', 'the stored one is untouched');
  });

  test('PATCH pauses, resumes and edits description and tags; an unchanged patch writes nothing', async () => {
    const before = (await call<Stored>('GET', '/api/automations/job-failures')).body;
    const paused = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: false });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.enabled, false);
    assert.equal(paused.body.version, before.version + 1);
    const repeat = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: false });
    assert.equal(repeat.body.version, paused.body.version, 'no version bump for a patch that changes nothing');

    const edited = await call<Stored>('PATCH', '/api/automations/job-failures', { enabled: true, description: 'edited', tags: ['a', 'b'] });
    assert.equal(edited.status, 200);
    assert.deepEqual([edited.body.enabled, edited.body.description, edited.body.tags], [true, 'edited', ['a', 'b']]);
    assert.deepEqual(edited.body.trigger, before.trigger, 'the rest of the document is kept');
    const [row] = await harness.database.db.query<{ enabled: boolean; definition: { enabled: boolean; description: string } }>('SELECT enabled, definition FROM automations WHERE name = $1', ['job-failures']);
    assert.deepEqual([row!.enabled, row!.definition.enabled, row!.definition.description], [true, true, 'edited'], 'column and document agree');

    // PUT of the edited document is a no-op: the patch stored exactly what a PUT would.
    const { version: _v, created_at: _c, updated_at: _u, ...document } = edited.body;
    const put = await call<{ changed: boolean }>('PUT', '/api/automations/job-failures', document);
    assert.equal(put.body.changed, false);
  });

  test('DELETE: 204, then 404', async () => {
    assert.equal((await call('DELETE', '/api/automations/created-by-post')).status, 204);
    assertProblem(await call('DELETE', '/api/automations/created-by-post'), 404, 'not_found');
    assertProblem(await call('GET', '/api/automations/created-by-post'), 404, 'not_found');
  });

  test('validate: the normalized automation, or every problem by path; nothing is saved', async () => {
    const valid = await call<{ valid: boolean; automation: Stored }>('POST', '/api/automations/validate', { name: 'draft', trigger: salesSla, actions_on_resolve: [notify('recovered')] });
    assert.equal(valid.status, 200);
    assert.equal(valid.body.valid, true);
    assert.equal(valid.body.automation.enabled, true);
    assert.equal((valid.body.automation.trigger as { grace: string }).grace, '0s');
    assertProblem(await call('GET', '/api/automations/draft'), 404, 'not_found');

    const invalid = await call<Problem>('POST', '/api/automations/validate', { name: 'draft', trigger: { ...failures, within: '0s' }, actions: [notify('{{ unclosed')] });
    assertProblem(invalid, 422, 'invalid_automation', 'trigger.within');
    assert.ok(invalid.body.errors!.some((e) => e.path === 'actions[0].text' && /Liquid/.test(e.message)));
  });
});
