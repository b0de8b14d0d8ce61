import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateAutomation } from '../schemas/automation.ts';

const examplesDir = new URL('../examples/', import.meta.url).pathname;

test('every automation in examples/ is valid', async () => {
  const files = (await readdir(examplesDir)).filter((file) => file.endsWith('.json'));
  assert.ok(files.length >= 6, 'the six documented examples are there');
  for (const file of files) {
    const result = validateAutomation(JSON.parse(await readFile(join(examplesDir, file), 'utf8')));
    assert.ok(result.ok, `${file}: ${result.ok ? '' : JSON.stringify(result.errors)}`);
  }
});

test('the generated JSON Schema and automation reference match the zod schema', async () => {
  const { automationJsonSchema, automationReference } = await import('../schemas/automation-reference.ts');
  const onDisk = JSON.parse(await readFile(new URL('../schemas/json/automation.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const { $id: _id, title: _title, ...generated } = onDisk;
  assert.deepEqual(generated, JSON.parse(JSON.stringify(automationJsonSchema())), 'run `node schemas/generate-automation-json-schema.ts`');
  const reference = await readFile(new URL('../docs/reference/automation-schema.md', import.meta.url), 'utf8');
  assert.equal(reference, automationReference(), 'run `node schemas/generate-automation-json-schema.ts`');
});

test('the generated event JSON Schema matches the zod schema', async () => {
  const { eventJsonSchema } = await import('../schemas/event-json-schema.ts');
  const onDisk = JSON.parse(await readFile(new URL('../schemas/json/event.schema.json', import.meta.url), 'utf8')) as unknown;
  assert.deepEqual(onDisk, JSON.parse(JSON.stringify(eventJsonSchema())), 'run `npm run schemas:generate`');
});
