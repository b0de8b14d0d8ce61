import { Command, InvalidArgumentError } from 'commander';
import { createApiKeys, generateKeySecret, scopes, type Scope } from '../api/api-keys.ts';
import { ConfigError, loadConfig } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { migrate } from '../platform/migrations/migrate.ts';
import { openDatabase } from '../platform/runtime/infrastructure.ts';
import { roles, startVigil, type Role } from './start-command.ts';

function parseScopes(value: string): Scope[] {
  const list = value.split(',').map((scope) => scope.trim());
  for (const scope of list) {
    if (!(scopes as readonly string[]).includes(scope)) throw new InvalidArgumentError(`unknown scope "${scope}"; use ${scopes.join(', ')}`);
  }
  return list as Scope[];
}

function parseRoles(value: string): Role[] {
  const list = value.split(',').map((role) => role.trim());
  for (const role of list) {
    if (!(roles as readonly string[]).includes(role)) throw new InvalidArgumentError(`unknown role "${role}"; use ${roles.join(', ')}`);
  }
  return list as Role[];
}

const program = new Command('vigil')
  .description('Vigil: event-driven automations for data platforms')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('start')
  .description('run Vigil: every role in one process, or the ones named with --role')
  .option('--role <roles>', `comma-separated roles (${roles.join(', ')})`, parseRoles)
  .action(async (options: { role?: Role[] }) => {
    await startVigil(loadConfig(), options.role ?? [...roles]);
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const config = loadConfig();
    const db = await openDatabase(config);
    try {
      const applied = await migrate(db);
      console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'the database is up to date');
    } finally {
      await db.close();
    }
  });

const keys = program.command('keys').description('API keys');
keys
  .command('create')
  .description('create an API key in the database and print its secret (shown once)')
  .requiredOption('--name <name>', 'who or what uses the key, e.g. airflow-prod')
  .option('--scopes <scopes>', `comma-separated scopes (${scopes.join(', ')})`, parseScopes, ['events:write'] as Scope[])
  .action(async (options: { name: string; scopes: Scope[] }) => {
    const config = loadConfig();
    const db = await openDatabase(config);
    try {
      await migrate(db);
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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  const logger = createLogger('error');
  logger.fatal({ err: error }, 'vigil failed');
  process.exit(1);
}
