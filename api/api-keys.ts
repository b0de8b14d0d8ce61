import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { Sql } from '../platform/ports/database.ts';

export const scopes = ['events:write', 'read', 'admin'] as const;
export type Scope = (typeof scopes)[number];

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

/** How long a verified key is trusted without asking the database again (revocation delay). */
const cacheMs = 10_000;

/** API keys, stored as SHA-256 hashes; plus the bootstrap admin key from VIGIL_ADMIN_KEY. */
export function createApiKeys(db: Sql, options: { adminKey?: string | undefined; now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const adminHash = options.adminKey ? hashSecret(options.adminKey) : undefined;
  const cache = new Map<string, { key: ApiKey | null; until: number }>();

  return {
    async create(name: string, keyScopes: readonly Scope[]): Promise<ApiKey & { secret: string }> {
      const secret = generateKeySecret();
      const id = uuidv7();
      await db.query('INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4)', [id, name, hashSecret(secret), keyScopes]);
      return { id, name, scopes: keyScopes, secret };
    },

    /** The key a presented secret belongs to, or null when it is unknown or revoked. */
    async verify(secret: string): Promise<ApiKey | null> {
      const hash = hashSecret(secret);
      if (adminHash && timingSafeEqual(hash, adminHash)) return { id: 'bootstrap-admin', name: 'VIGIL_ADMIN_KEY', scopes: ['admin'] };
      const cacheKey = hash.toString('base64');
      const cached = cache.get(cacheKey);
      if (cached && cached.until > now()) return cached.key;
      const rows = await db.query<{ id: string; name: string; scopes: Scope[] }>(
        'UPDATE api_keys SET last_used_at = now() WHERE key_hash = $1 AND revoked_at IS NULL RETURNING id, name, scopes',
        [hash],
      );
      const key = rows[0] ? { id: rows[0].id, name: rows[0].name, scopes: rows[0].scopes } : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(cacheKey, { key, until: now() + cacheMs });
      return key;
    },

    async list(): Promise<Array<ApiKey & { created_at: Date; last_used_at: Date | null; revoked_at: Date | null }>> {
      return db.query('SELECT id, name, scopes, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at');
    },

    async revoke(id: string): Promise<boolean> {
      const rows = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id]);
      cache.clear();
      return rows.length > 0;
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
