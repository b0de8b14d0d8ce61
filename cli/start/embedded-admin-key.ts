import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateKeySecret } from '../../api/api-keys.ts';
import type { Config } from '../../platform/config.ts';

/**
 * The admin key of an embedded installation: VIGIL_ADMIN_KEY when set, else one generated on
 * first start and kept in the data directory (readable by the owner only).
 */
export async function embeddedAdminKey(config: Config): Promise<{ key: string; generated: boolean }> {
  if (config.VIGIL_ADMIN_KEY) return { key: config.VIGIL_ADMIN_KEY, generated: false };
  const file = join(resolve(config.VIGIL_DATA_DIR), 'admin-key');
  try {
    return { key: (await readFile(file, 'utf8')).trim(), generated: false };
  } catch {
    const key = generateKeySecret();
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return { key, generated: true };
  }
}

