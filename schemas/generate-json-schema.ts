// Writes the JSON Schemas editors and clients use, and the generated automation reference:
//   schemas/json/event.schema.json       (an event as sent to POST /api/events)
//   schemas/json/automation.schema.json  (an automation)
//   docs/reference/automation-schema.md
// Usage: npm run schemas:generate   (a test fails when these are out of date)
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { automationJsonSchema, automationReference } from './automation-reference.ts';
import { eventJsonSchema } from './event-json-schema.ts';

const jsonDir = join(import.meta.dirname, 'json');
await mkdir(jsonDir, { recursive: true });
const outputs: Array<[string, string]> = [
  [join(jsonDir, 'event.schema.json'), `${JSON.stringify(eventJsonSchema(), null, 2)}\n`],
  [
    join(jsonDir, 'automation.schema.json'),
    `${JSON.stringify({ ...automationJsonSchema(), $id: 'https://vigil.dev/schemas/automation.schema.json', title: 'Vigil automation' }, null, 2)}\n`,
  ],
  [join(import.meta.dirname, '..', 'docs', 'reference', 'automation-schema.md'), automationReference()],
];
for (const [file, content] of outputs) {
  await writeFile(file, content);
  console.log(`wrote ${file}`);
}
