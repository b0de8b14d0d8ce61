import { z } from 'zod';

/*
 * API keys: who may call Vigil and for what. `admin` covers everything; `read` and
 * `events:write` only themselves. Only a hash of a key's secret is stored; the secret is shown
 * once, when the key is created.
 */

export const apiKeyScopes = ['events:write', 'read', 'admin'] as const;
export type Scope = (typeof apiKeyScopes)[number];

/** The body of POST /api/keys. */
export const newApiKey = z
  .object({
    name: z
      .string({ message: 'must be a string' })
      .trim()
      .min(1, 'must not be empty')
      .max(128, 'must be at most 128 characters')
      // eslint-disable-next-line no-control-regex
      .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'must not contain control characters')
      .meta({ pattern: '^[^\\u0000-\\u001f\\u007f]*$' })
      .describe('Who or what uses the key, e.g. `airflow-prod`'),
    scopes: z
      .array(z.enum(apiKeyScopes, { message: `must be one of ${apiKeyScopes.join(', ')}` }), { message: `must be a list of scopes (${apiKeyScopes.join(', ')})` })
      .min(1, 'must hold at least one scope')
      .refine((list) => new Set(list).size === list.length, 'must not repeat a scope')
      .meta({ uniqueItems: true })
      .describe('What the key may do: `events:write` (send events), `read` (read everything), `admin` (everything)'),
  })
  .strict();

export type NewApiKey = z.infer<typeof newApiKey>;

/** An API key as the API lists it: never its secret. */
export interface ApiKeyResource {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly created_at: string;
  /** When a request last authenticated with it (updated at most every 10 s per Vigil process); null when never used. */
  readonly last_used_at: string | null;
}

/** The answer of POST /api/keys: the key and its secret, shown this once. */
export interface CreatedApiKey extends ApiKeyResource {
  readonly secret: string;
}
