import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness, useAutomationsApi } from './automations-api.ts';

/* The automations API: the OpenAPI document. */

useAutomationsApi();

describe('OpenAPI', () => {
  test('every route is documented under the automations tag, with resolvable schemas', async () => {
    const document = (await (await fetch(`${harness.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; requestBody?: unknown; responses?: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const expected: Array<[string, string]> = [
      ['/api/automations', 'get'],
      ['/api/automations', 'post'],
      ['/api/automations/validate', 'post'],
      ['/api/automations/{name}', 'get'],
      ['/api/automations/{name}', 'put'],
      ['/api/automations/{name}', 'patch'],
      ['/api/automations/{name}', 'delete'],
      ['/api/automations/{name}/test', 'post'],
      ['/api/automations/{name}/firings', 'get'],
    ];
    for (const [path, method] of expected) {
      const operation = document.paths[path]?.[method];
      assert.ok(operation, `${method} ${path}`);
      assert.deepEqual(operation.tags, ['automations']);
      assert.ok(operation.summary);
      assert.ok(operation.responses && Object.keys(operation.responses).some((code) => code.startsWith('2')));
    }
    assert.ok(document.paths['/api/automations/{name}']!['put']!.requestBody);
    for (const ref of JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      assert.ok(document.components.schemas[ref[1]!], `dangling $ref ${ref[1]}`);
    }
  });
});
