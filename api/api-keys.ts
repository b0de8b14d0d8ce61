import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Database } from '../platform/ports/database.ts';
import type { ApiKeyResource, CreatedApiKey, Scope } from '../schemas/api-key.ts';
import { isUuid } from '../schemas/uuid.ts';

/*
 * The api_keys table's one owner: create, verify, list, revoke. Only a SHA-256 hash of a
 * secret is stored. A verified key is trusted from memory for a few seconds (no database round
 * trip per request); a revocation announces itself (NOTIFY vigil_api_keys) so that every
 * process that watches revocations drops what it trusted at once (docs/decisions/0420).
 */

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Scope[];
}

/** What a caller may do with a key: `admin` covers everything, `read` and `events:write` only themselves. */
export function allows(key: ApiKey, needed: Scope): boolean {
  return key.scopes.includes('admin') || key.scopes.includes(needed);
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** A new random key secret; shown once at creation, only its hash is stored. */
export function generateKeySecret(): string {
  return `vk_${randomBytes(24).toString('base64url')}`;
}

/** The id the bootstrap key (VIGIL_ADMIN_KEY) authenticates as; it is not stored, so it cannot be listed or revoked. */
export const bootstrapKeyId = 'bootstrap-admin';

/** The channel a revocation is announced on. */
const revocationChannel = 'vigil_api_keys';

/** How long a verified key is trusted without asking the database again, when no revocation is announced. */
const cacheMs = 10_000;

interface KeyRow {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: Date;
  last_used_at: Date | null;
}

function resource(row: KeyRow): ApiKeyResource {
  return { id: row.id, name: row.name, scopes: row.scopes, created_at: row.created_at.toISOString(), last_used_at: row.last_used_at?.toISOString() ?? null };
}

/** API keys, stored as SHA-256 hashes; plus the bootstrap admin key from VIGIL_ADMIN_KEY. */
export function createApiKeys(db: Database, options: { adminKey?: string | undefined; now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const adminHash = options.adminKey ? hashSecret(options.adminKey) : undefined;
  const cache = new Map<string, { key: ApiKey | null; until: number }>();
  /** +1 on every revocation seen: a lookup that started before one must not fill the cache. */
  let generation = 0;
  const forget = () => {
    generation += 1;
    cache.clear();
  };

  return {
    async create(name: string, keyScopes: readonly Scope[]): Promise<CreatedApiKey> {
      const secret = generateKeySecret();
      const [row] = await db.query<KeyRow>(
        'INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4) RETURNING id, name, scopes, created_at, last_used_at',
        [uuidv7(), name, hashSecret(secret), keyScopes],
      );
      return { ...resource(row!), secret };
    },

    /** The key a presented secret belongs to, or null when it is unknown or revoked. */
    async verify(secret: string): Promise<ApiKey | null> {
      const hash = hashSecret(secret);
      if (adminHash && timingSafeEqual(hash, adminHash)) return { id: bootstrapKeyId, name: 'VIGIL_ADMIN_KEY', scopes: ['admin'] };
      const cacheKey = hash.toString('base64');
      const cached = cache.get(cacheKey);
      if (cached && cached.until > now()) return cached.key;
      const startedIn = generation;
      const rows = await db.query<{ id: string; name: string; scopes: Scope[] }>(
        'UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1 AND revoked_at IS NULL RETURNING id, name, scopes',
        [hash],
      );
      const key = rows[0] ? { id: rows[0].id, name: rows[0].name, scopes: rows[0].scopes } : null;
      if (startedIn === generation) {
        if (cache.size > 10_000) cache.clear();
        cache.set(cacheKey, { key, until: now() + cacheMs });
      }
      return key;
    },

    /** The keys that authenticate (not revoked), oldest first; never their secrets. */
    async list(): Promise<ApiKeyResource[]> {
      const rows = await db.query<KeyRow>('SELECT id, name, scopes, created_at, last_used_at FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id');
      return rows.map(resource);
    },

    /** Revokes a key; false when there is no such key or it is revoked already. Announced to every watching process. */
    async revoke(id: string): Promise<boolean> {
      if (!isUuid(id)) return false;
      const rows = await db.query(
        `WITH revoked AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id)
         SELECT id, pg_notify('${revocationChannel}', id) FROM revoked`,
        [id],
      );
      forget();
      return rows.length > 0;
    },

    /**
     * Drops every trusted key whenever any process revokes one; resolves to a function that
     * stops watching. Without it, another process's revocation takes effect here within 10 s.
     */
    async watchRevocations(): Promise<() => Promise<void>> {
      const unlisten = await db.listen(revocationChannel, forget);
      // A revocation between the last lookup and the subscription would be missed otherwise.
      forget();
      return unlisten;
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
