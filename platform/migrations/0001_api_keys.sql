-- API keys: only a SHA-256 hash of the secret is stored. Scopes: events:write, read, admin.
CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  key_hash    bytea NOT NULL UNIQUE,
  scopes      text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at  timestamptz
);
