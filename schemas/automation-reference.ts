/**
 * The automation reference (docs/reference/automation-schema.md), generated from the JSON Schema
 * of the zod automation schema, so the reference can never disagree with what is validated.
 * `npm run schemas:generate` writes both; a test checks they are current.
 */
import { z } from 'zod';
import { automation } from './automation.ts';

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  /** Set on action fields that are Liquid templates (schemas/action.ts). */
  'x-vigil-template'?: 'text' | 'json';
};

export function automationJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(automation, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  dropRedundantRefs(schema, schema);
  return schema;
}

/**
 * zod writes a marked recursive JSON value (e.g. a templated JSON body) as its definition's
 * `anyOf` inlined beside a `$ref` to that same definition. Both say the same; editors' schema
 * libraries (the console's codemirror-json-schema among them) refuse a node with two type
 * keywords, so the redundant `$ref` is dropped.
 */
function dropRedundantRefs(node: unknown, root: JsonSchema): void {
  if (Array.isArray(node)) {
    for (const item of node) dropRedundantRefs(item, root);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as JsonSchema;
  if (schema.$ref && schema.anyOf && JSON.stringify(schema.anyOf) === JSON.stringify(resolve({ $ref: schema.$ref }, root).anyOf)) delete schema.$ref;
  for (const value of Object.values(node)) dropRedundantRefs(value, root);
}

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace('#/$defs/', '');
  return root.$defs?.[name] ?? schema;
}

function typeOf(schema: JsonSchema, root: JsonSchema): string {
  // The only shared definitions are recursive JSON values (JSON Logic, templated JSON bodies).
  if (schema.$ref) return 'JSON';
  const s = schema;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((value) => `\`${JSON.stringify(value)}\``).join(' or ');
  const variants = s.oneOf ?? s.anyOf;
  if (variants) return [...new Set(variants.map((variant) => typeOf(variant, root)))].join(' or ');
  if (s.type === 'array') return `array of ${s.items ? typeOf(s.items, root) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object' && !s.properties) {
    return `map of ${typeOf(s.additionalProperties, root)}`;
  }
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
}

function constraints(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined && schema.minLength > 0) parts.push(`length ≥ ${schema.minLength}`);
  if (schema.maxLength !== undefined) parts.push(`length ≤ ${schema.maxLength}`);
  if (schema.minItems !== undefined && schema.minItems > 0) parts.push(`≥ ${schema.minItems} items`);
  if (schema.maxItems !== undefined) parts.push(`≤ ${schema.maxItems} items`);
  return parts.join(', ');
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function fieldTable(schema: JsonSchema, root: JsonSchema, skip: readonly string[] = []): string {
  const s = resolve(schema, root);
  const required = new Set(s.required ?? []);
  const rows = Object.entries(s.properties ?? {})
    .filter(([name]) => !skip.includes(name))
    .map(([name, property]) => {
      const p = resolve(property, root);
      const fallback = p.default === undefined ? (required.has(name) ? '**required**' : '—') : `\`${JSON.stringify(p.default)}\``;
      const marked = property['x-vigil-template'] ?? p['x-vigil-template'] ?? (p.items ? resolve(p.items, root)['x-vigil-template'] : undefined);
      const template = marked === 'json' ? '**templated JSON (typed)**' : marked === 'text' ? '**template**' : '';
      return `| \`${name}\` | ${cell(typeOf(p, root))} | ${fallback} | ${cell([template, constraints(p), p.description ?? ''].filter(Boolean).join('; '))} |`;
    });
  return ['| field | type | default | notes |', '|---|---|---|---|', ...rows].join('\n');
}

function variantsOf(schema: JsonSchema, root: JsonSchema, discriminator: string): Array<[string, JsonSchema]> {
  const s = resolve(schema, root);
  const variants = s.oneOf ?? s.anyOf ?? [];
  return variants.map((variant) => {
    const v = resolve(variant, root);
    const tag = v.properties?.[discriminator]?.const;
    return [String(tag), v];
  });
}

/** The whole reference page as Markdown. */
export function automationReference(): string {
  const root = automationJsonSchema();
  const trigger = root.properties?.trigger;
  const actionItems = root.properties?.actions?.items;
  const sections = [
    '# Automation schema reference',
    '',
    '<!-- Generated from schemas/automation.ts by `npm run schemas:generate`; do not edit by hand. -->',
    '',
    'An automation is a JSON object. Unknown fields are rejected. The JSON Schema for editors is',
    '`schemas/json/automation.schema.json`; the semantics are explained in [triggers.md](triggers.md) and [actions.md](actions.md).',
    '',
    '## Automation',
    '',
    fieldTable(root, root),
  ];
  if (trigger) {
    sections.push('', '## Triggers (`trigger`, chosen by `type`)');
    for (const [type, variant] of variantsOf(trigger, root, 'type')) sections.push('', `### \`${type}\``, '', fieldTable(variant, root, ['type']));
  }
  if (actionItems) {
    sections.push('', '## Actions (`actions`, `actions_on_resolve`, chosen by `kind`)');
    for (const [kind, variant] of variantsOf(actionItems, root, 'kind')) sections.push('', `### \`${kind}\``, '', fieldTable(variant, root, ['kind']));
  }
  return `${sections.join('\n')}\n`;
}
