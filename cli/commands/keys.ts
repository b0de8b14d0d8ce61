import type { Command } from 'commander';
import { createApiKeys, generateKeySecret, scopes, type Scope } from '../../api/api-keys.ts';
import { loadConfig } from '../../platform/config.ts';
import { commaListOf } from '../option-parsers.ts';

/** `vigil keys create|generate`: API keys, created straight in the database (no server needed). */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('API keys');
  keys
    .command('create')
    .description('create an API key in the database and print its secret (shown once)')
    .requiredOption('--name <name>', 'who or what uses the key, e.g. airflow-prod')
    .option('--scopes <scopes>', `comma-separated scopes (${scopes.join(', ')})`, commaListOf(scopes, 'scope'), ['events:write'] as Scope[])
    .action(async (options: { name: string; scopes: Scope[] }) => {
      const { openMigratedDatabase } = await import('../start/infrastructure.ts');
      const { db } = await openMigratedDatabase(loadConfig());
      try {
        const key = await createApiKeys(db).create(options.name, options.scopes);
        console.log(JSON.stringify({ id: key.id, name: key.name, scopes: key.scopes, secret: key.secret }, null, 2));
      } finally {
        await db.close();
      }
    });
  keys
    .command('generate')
    .description('print a random secret suitable for VIGIL_ADMIN_KEY (stores nothing)')
    .action(() => {
      console.log(generateKeySecret());
    });
}
