// Writes schemas/json/automation.schema.json from the zod schema (zod 4 z.toJSONSchema).
// Usage: node schemas/generate-automation-json-schema.ts
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { automation } from './automation.ts';

const schema = z.toJSONSchema(automation, { io: 'input', unrepresentable: 'any' });
const out = join(import.meta.dirname, 'json', 'automation.schema.json');
await mkdir(join(import.meta.dirname, 'json'), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify({ ...schema, $id: 'https://vigil.dev/schemas/automation.schema.json', title: 'Vigil automation' }, null, 2)}\n`,
);
console.log(`wrote ${out}`);
