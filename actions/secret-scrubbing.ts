import { secretFields, type ConnectionKind, type ConnectionOf } from '../schemas/connection.ts';
import { redacted, type ConnectionsRepository } from './connections.ts';

/*
 * Secrets out of what an action run records: the connections an attempt resolves remember their
 * secret values, and every text recorded about the attempt (response body, error, result) has
 * them replaced with "[redacted]".
 */

/** Secrets shorter than this are not scrubbed (they would mangle ordinary text). */
const minScrubbedSecretLength = 4;

/**
 * Replaces every secret value in a text with "[redacted]": a receiver that echoes its request
 * (headers, a Slack webhook URL in an error page) must not put a credential into the run record,
 * the API or a lifecycle event. A secret cut off where a text was shortened (its beginning at the
 * end of the text or before "…") is redacted too.
 */
export function scrub(text: string | null, secrets: ReadonlySet<string>): string | null {
  if (text === null || secrets.size === 0) return text;
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.replaceAll(secret, redacted);
  const shortened = scrubbed.includes('…');
  for (const secret of secrets) {
    for (let length = secret.length - 1; length >= minScrubbedSecretLength; length -= 1) {
      const head = secret.slice(0, length);
      if (scrubbed.endsWith(head)) scrubbed = `${scrubbed.slice(0, -length)}${redacted}`;
      if (shortened && scrubbed.includes(`${head}…`)) scrubbed = scrubbed.replaceAll(`${head}…`, `${redacted}…`);
    }
  }
  return scrubbed;
}

function collectSecrets(connection: { readonly kind: ConnectionKind }, into: Set<string>): void {
  const fields = connection as unknown as Record<string, unknown>;
  for (const field of secretFields[connection.kind]) {
    const value = fields[field];
    const values = typeof value === 'string' ? [value] : value !== null && typeof value === 'object' ? Object.values(value) : [];
    for (const secret of values) {
      if (typeof secret !== 'string' || secret.length < minScrubbedSecretLength) continue;
      into.add(secret);
      // As it appears inside JSON (an echoed JSON body, the stored result).
      const escaped = JSON.stringify(secret).slice(1, -1);
      if (escaped !== secret) into.add(escaped);
    }
  }
}

/** The connections repository for one attempt: remembers the secrets it hands out. */
export function trackingConnections(base: ConnectionsRepository, secrets: Set<string>): ConnectionsRepository {
  return {
    ...base,
    async resolve<K extends ConnectionKind>(name: string, ...kinds: K[]): Promise<ConnectionOf<K>> {
      const connection = await base.resolve(name, ...kinds);
      collectSecrets(connection, secrets);
      return connection;
    },
  };
}
