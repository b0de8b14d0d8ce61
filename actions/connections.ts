import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Sql } from '../platform/ports/database.ts';
import { PermanentActionError } from '../platform/ports/action-queue.ts';
import {
  connectionConfig,
  connectionNamePattern,
  secretFields,
  type ConnectionConfig,
  type ConnectionKind,
  type ConnectionOf,
  type RedactedConnection,
} from '../schemas/connection.ts';

/*
 * The connections repository. Secret fields (per kind, see schemas/connection.ts) are encrypted
 * together with AES-256-GCM under a 32-byte key from configuration (VIGIL_SECRET_KEY); the
 * connection's name and kind are authenticated data, so a ciphertext cannot be moved to another
 * row. Reads for the API show each secret field that holds a value as "set" (its name, never
 * its value: the names are kept in `secret_fields`); only `resolve` (used by action workers and
 * connection tests) decrypts, and its result never reaches a log or a response.
 */

export const redacted = '[redacted]';

/** How a read shows a secret field that holds a value; fields never given are left out. */
export const secretSet = 'set';

/** A secret field sent with either placeholder keeps the stored value. */
function isPlaceholder(value: unknown): boolean {
  return value === secretSet || value === redacted;
}

/** The key is missing or wrong, or a connection is missing: the action cannot run; not retried. */
export class ConnectionError extends PermanentActionError {
  override readonly name: string = 'ConnectionError';
}

/** No VIGIL_SECRET_KEY is configured: connections can be listed and deleted, not saved or used. */
export class SecretKeyMissingError extends ConnectionError {
  override readonly name: string = 'SecretKeyMissingError';
}

/** One problem of a connection's JSON: where (dot path, '' for the whole) and what. */
export interface ConnectionProblem {
  readonly path: string;
  readonly message: string;
}

/** The connection's name or JSON is invalid; `problems` says where and why (never with the values). */
export class ConnectionValidationError extends Error {
  override readonly name = 'ConnectionValidationError';
  readonly problems: readonly ConnectionProblem[];
  constructor(problems: readonly ConnectionProblem[]) {
    const first = problems[0];
    super(`the connection is invalid: ${first ? `${first.path || '(connection)'}: ${first.message}` : 'unknown problem'}`);
    this.problems = problems;
  }
}

export const secretKeyMissingMessage =
  'connections need a secret key: set VIGIL_SECRET_KEY to 32 random bytes in base64 (e.g. `openssl rand -base64 32`) and restart Vigil';

/** Zod issues as path-level problems; unknown fields get one problem each, at their own path. */
function problemsOf(error: z.ZodError): ConnectionProblem[] {
  const problems: ConnectionProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: path ? `${path}.${key}` : key, message: 'unknown field' });
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return problems;
}

/** Decodes VIGIL_SECRET_KEY (base64 or base64url of 32 bytes) or checks a raw key. */
function parseSecretKey(key: string | Uint8Array | undefined): Buffer | undefined {
  if (key === undefined || key === '') return undefined;
  const bytes = typeof key === 'string' ? Buffer.from(key.replace(/-/g, '+').replace(/_/g, '/'), 'base64') : Buffer.from(key);
  if (bytes.length !== 32) throw new Error('the connection secret key must be 32 bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)');
  return bytes;
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('vigil-connection-key').update(key).digest('hex').slice(0, 16);
}

interface ConnectionRow {
  name: string;
  kind: ConnectionKind;
  config: Record<string, unknown>;
  secret_iv: Buffer;
  secret_data: Buffer;
  secret_tag: Buffer;
  key_id: string;
  /** Names of the secret fields that hold a value; null for rows stored before it was kept. */
  secret_fields: string[] | null;
  created_at: Date;
  updated_at: Date;
}

function split(config: ConnectionConfig): { plain: Record<string, unknown>; secret: Record<string, unknown> } {
  const plain: Record<string, unknown> = {};
  const secret: Record<string, unknown> = {};
  const secrets = new Set(secretFields[config.kind]);
  for (const [field, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (secrets.has(field)) secret[field] = value;
    else plain[field] = value;
  }
  return { plain, secret };
}

/** The secret fields that hold a value (an empty `headers` holds none). */
function fieldsSet(secret: Record<string, unknown>): string[] {
  return Object.entries(secret)
    .filter(([, value]) => value !== undefined && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0))
    .map(([field]) => field);
}

function aad(name: string, kind: string): Buffer {
  return Buffer.from(`vigil-connection\u0000${name}\u0000${kind}`);
}

export interface ConnectionsRepository {
  /** Whether a secret key is configured (without one, `upsert` and `resolve` throw SecretKeyMissingError). */
  readonly hasSecretKey: boolean;
  /**
   * Validates and stores (insert or replace) a connection; returns it redacted. A secret field
   * given as "set" (or "[redacted]") keeps the value stored for this connection (so a connection read from
   * the API can be edited and saved back). Throws ConnectionValidationError for an invalid name or
   * JSON, SecretKeyMissingError without a key, ConnectionError when a kept secret cannot be read.
   */
  upsert(name: string, config: unknown): Promise<RedactedConnection>;
  /** The connection with each secret that holds a value shown as "set"; undefined when absent. */
  get(name: string): Promise<RedactedConnection | undefined>;
  list(): Promise<RedactedConnection[]>;
  /** Resolves to false when there was no such connection. */
  delete(name: string): Promise<boolean>;
  /** The kinds of those of `names` that exist (no secret is read). */
  kinds(names: readonly string[]): Promise<Map<string, ConnectionKind>>;
  /** Decrypted, for action executors only. Throws ConnectionError when missing, of another kind, or undecryptable. */
  resolve<K extends ConnectionKind>(name: string, ...kinds: K[]): Promise<ConnectionOf<K>>;
  /** The stored connections the configured key cannot decrypt (all of them without a key), each with why: checked at start-up. */
  undecryptable(): Promise<Array<{ name: string; reason: string }>>;
}

export function createConnectionsRepository(db: Sql, secretKey: string | Uint8Array | undefined): ConnectionsRepository {
  const key = parseSecretKey(secretKey);
  const columns = 'name, kind, config, secret_iv, secret_data, secret_tag, key_id, secret_fields, created_at, updated_at';

  function requireKey(): Buffer {
    if (!key) throw new SecretKeyMissingError(secretKeyMissingMessage);
    return key;
  }

  /** The stored secret fields of a row; throws ConnectionError when they cannot be decrypted with the configured key. */
  function decryptSecret(row: ConnectionRow): Record<string, unknown> {
    const decryptionKey = requireKey();
    if (row.key_id !== keyId(decryptionKey)) {
      throw new ConnectionError(`connection "${row.name}" was encrypted with another secret key than the configured VIGIL_SECRET_KEY`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', decryptionKey, row.secret_iv);
      decipher.setAAD(aad(row.name, row.kind));
      decipher.setAuthTag(row.secret_tag);
      const plain = Buffer.concat([decipher.update(row.secret_data), decipher.final()]).toString('utf8');
      return JSON.parse(plain) as Record<string, unknown>;
    } catch {
      throw new ConnectionError(`connection "${row.name}" cannot be decrypted (wrong key or tampered data)`);
    }
  }

  /**
   * Replaces secret fields given as "[redacted]" with the values stored for the connection;
   * a placeholder with nothing stored to keep is a validation problem at its path.
   */
  async function keepRedactedSecrets(name: string, input: unknown): Promise<unknown> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const given = input as Record<string, unknown>;
    const kind = given.kind;
    if (typeof kind !== 'string' || !Object.hasOwn(secretFields, kind)) return input;
    const placeholders = secretFields[kind as ConnectionKind].filter((field) => isPlaceholder(given[field]));
    if (placeholders.length === 0) return input;
    const [row] = await db.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE name = $1`, [name]);
    const stored = row && row.kind === kind ? decryptSecret(row) : undefined;
    const problems: ConnectionProblem[] = [];
    const merged: Record<string, unknown> = { ...given };
    for (const field of placeholders) {
      if (stored && stored[field] !== undefined) merged[field] = stored[field];
      else {
        problems.push({
          path: field,
          message: `is ${JSON.stringify(given[field])}, which keeps a stored secret, but ${row ? (row.kind === kind ? `connection "${name}" has no ${field}` : `connection "${name}" is a ${row.kind} connection`) : `there is no connection "${name}" yet`}; send the secret's value`,
        });
      }
    }
    if (problems.length > 0) throw new ConnectionValidationError(problems);
    return merged;
  }

  /** Which secret fields a row holds: kept with it, or (rows stored before that) learned by decrypting; undefined when neither works. */
  function storedSecretFields(row: ConnectionRow): readonly string[] | undefined {
    if (row.secret_fields) return row.secret_fields;
    try {
      return fieldsSet(decryptSecret(row));
    } catch {
      return undefined;
    }
  }

  /** The row as the API shows it: each secret field that holds a value as "set" (or "[redacted]" when that cannot be known). */
  function redact(row: ConnectionRow): RedactedConnection {
    const config: Record<string, unknown> = { kind: row.kind, ...row.config };
    const set = storedSecretFields(row);
    for (const field of secretFields[row.kind]) {
      if (!set) config[field] = redacted;
      else if (set.includes(field)) config[field] = secretSet;
    }
    return {
      name: row.name,
      kind: row.kind,
      config,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }

  return {
    hasSecretKey: key !== undefined,

    async upsert(name, input) {
      if (!connectionNamePattern.test(name)) {
        throw new ConnectionValidationError([{ path: 'name', message: 'connection names are 1-128 letters, digits, "_", "." or "-", starting with a letter or digit' }]);
      }
      const parsed = connectionConfig.safeParse(await keepRedactedSecrets(name, input));
      if (!parsed.success) throw new ConnectionValidationError(problemsOf(parsed.error));
      const config = parsed.data;
      const { plain, secret } = split(config);
      const encryptionKey = requireKey();
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv);
      cipher.setAAD(aad(name, config.kind));
      const data = Buffer.concat([cipher.update(JSON.stringify(secret), 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      const { kind: _kind, ...plainWithoutKind } = plain;
      const [row] = await db.query<ConnectionRow>(
        `INSERT INTO connections (name, kind, config, secret_iv, secret_data, secret_tag, key_id, secret_fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config, secret_iv = EXCLUDED.secret_iv,
           secret_data = EXCLUDED.secret_data, secret_tag = EXCLUDED.secret_tag, key_id = EXCLUDED.key_id,
           secret_fields = EXCLUDED.secret_fields, updated_at = now()
         RETURNING ${columns}`,
        [name, config.kind, JSON.stringify(plainWithoutKind), iv, data, tag, keyId(encryptionKey), fieldsSet(secret)],
      );
      return redact(row!);
    },

    async get(name) {
      const [row] = await db.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE name = $1`, [name]);
      return row ? redact(row) : undefined;
    },

    async list() {
      const rows = await db.query<ConnectionRow>(`SELECT ${columns} FROM connections ORDER BY name`);
      return rows.map(redact);
    },

    async delete(name) {
      const rows = await db.query('DELETE FROM connections WHERE name = $1 RETURNING name', [name]);
      return rows.length > 0;
    },

    async kinds(names) {
      if (names.length === 0) return new Map();
      const rows = await db.query<{ name: string; kind: ConnectionKind }>('SELECT name, kind FROM connections WHERE name = ANY($1::text[])', [names]);
      return new Map(rows.map((row) => [row.name, row.kind]));
    },

    async undecryptable() {
      const rows = await db.query<ConnectionRow>(`SELECT ${columns} FROM connections ORDER BY name`);
      const failing: Array<{ name: string; reason: string }> = [];
      for (const row of rows) {
        try {
          decryptSecret(row);
        } catch (error) {
          failing.push({ name: row.name, reason: error instanceof Error ? error.message : String(error) });
        }
      }
      return failing;
    },

    async resolve<K extends ConnectionKind>(name: string, ...kinds: K[]): Promise<ConnectionOf<K>> {
      const [row] = await db.query<ConnectionRow>(`SELECT ${columns} FROM connections WHERE name = $1`, [name]);
      if (!row) throw new ConnectionError(`connection "${name}" does not exist`);
      if (!(kinds as string[]).includes(row.kind)) {
        throw new ConnectionError(`connection "${name}" is a ${row.kind} connection; this action needs a ${kinds.join(' or ')} connection`);
      }
      const secret = decryptSecret(row);
      const parsed = connectionConfig.safeParse({ kind: row.kind, ...row.config, ...secret });
      if (!parsed.success) throw new ConnectionError(`connection "${name}" is invalid: ${parsed.error.issues[0]?.message ?? 'unknown error'}`);
      return parsed.data as ConnectionOf<K>;
    },
  };
}
