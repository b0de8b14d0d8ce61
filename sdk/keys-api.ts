import type { HttpTransport } from './http-transport.ts';
import type { ApiKeyResource, CreatedApiKey, Scope } from '../schemas/api-key.ts';

/** API keys (admin scope): list, create (the secret is answered once), revoke. */
export class KeysApi {
  readonly #http: HttpTransport;

  constructor(http: HttpTransport) {
    this.#http = http;
  }

  /** The keys that authenticate, oldest first; never their secrets. */
  async list(): Promise<ApiKeyResource[]> {
    const { body } = await this.#http.request<{ keys: ApiKeyResource[] }>('GET', '/api/keys', { retry: true });
    return body.keys;
  }

  /** Creates a key; its `secret` is in this answer only. Not retried: a retry after a lost answer would create a second key. */
  async create(name: string, scopes: readonly Scope[]): Promise<CreatedApiKey> {
    return (await this.#http.request<CreatedApiKey>('POST', '/api/keys', { body: { name, scopes } })).body;
  }

  /** Revokes a key: it stops authenticating at once. 404 (unknown or already revoked) as VigilApiError. */
  async revoke(id: string): Promise<void> {
    await this.#http.request('DELETE', `/api/keys/${encodeURIComponent(id)}`);
  }
}
