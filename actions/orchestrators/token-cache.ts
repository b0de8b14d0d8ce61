/** Bearer tokens obtained from a login endpoint (Airflow 3's /auth/token), cached until shortly before they expire. */
export interface TokenCache {
  get(key: string, obtain: () => Promise<{ token: string; expiresAt: number }>): Promise<string>;
  invalidate(key: string): void;
}

export function createTokenCache(now: () => number = Date.now): TokenCache {
  const tokens = new Map<string, { token: string; expiresAt: number }>();
  const pending = new Map<string, Promise<{ token: string; expiresAt: number }>>();
  return {
    async get(key, obtain) {
      const cached = tokens.get(key);
      if (cached && cached.expiresAt - 30_000 > now()) return cached.token;
      let request = pending.get(key);
      if (!request) {
        request = obtain().finally(() => pending.delete(key));
        pending.set(key, request);
      }
      const fresh = await request;
      tokens.set(key, fresh);
      return fresh.token;
    },
    invalidate(key) {
      tokens.delete(key);
    },
  };
}

/** The `exp` claim of a JWT in ms, or undefined (no signature check: the server checks). */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
