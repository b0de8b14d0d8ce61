import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateKeySecret } from '../../api/api-keys.ts';
import type { Config } from '../../platform/config.ts';

/** A key of an embedded installation, and where it is kept. */
export interface DataDirKey {
  readonly key: string;
  /** The file it is kept in; undefined when it came from the environment. */
  readonly file: string | undefined;
  /** Made on this start. */
  readonly generated: boolean;
}

/** The key in `name` of the data directory, made with `make` (and kept, readable by the owner only) when the file is missing. */
async function keyInDataDir(config: Config, name: string, make: () => string): Promise<DataDirKey> {
  const file = join(resolve(config.VIGIL_DATA_DIR), name);
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (key !== '') return { key, file, generated: false };
  } catch {
    // not made yet
  }
  const key = make();
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'w' });
  await chmod(file, 0o600);
  return { key, file, generated: true };
}

/**
 * The admin key of an embedded installation: VIGIL_ADMIN_KEY when set, else one generated on
 * first start and kept in the data directory (`admin-key`, readable by the owner only).
 */
export async function embeddedAdminKey(config: Config): Promise<DataDirKey> {
  if (config.VIGIL_ADMIN_KEY) return { key: config.VIGIL_ADMIN_KEY, file: undefined, generated: false };
  return keyInDataDir(config, 'admin-key', generateKeySecret);
}

/**
 * The key that encrypts connection secrets in an embedded installation: VIGIL_SECRET_KEY when
 * set, else one generated on first start and kept beside the admin key (`secret-key`, 32
 * random bytes in base64, readable by the owner only), so that stored connections keep working
 * across restarts. Back it up with the data directory.
 */
export async function embeddedSecretKey(config: Config): Promise<DataDirKey> {
  if (config.VIGIL_SECRET_KEY) return { key: config.VIGIL_SECRET_KEY, file: undefined, generated: false };
  return keyInDataDir(config, 'secret-key', () => randomBytes(32).toString('base64'));
}
