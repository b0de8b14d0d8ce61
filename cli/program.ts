import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { createApiKeys, generateKeySecret, scopes, type Scope } from '../api/api-keys.ts';
import { ConfigError, loadConfig } from '../platform/config.ts';
import { registerActionRunsCommands } from './commands/action-runs.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerAutomationsCommands } from './commands/automations.ts';
import { registerEmitCommand } from './commands/emit.ts';
import { registerEventsCommands } from './commands/events-tail.ts';
import { registerValidateCommand } from './commands/validate.ts';
import { exitCodes } from './exit-codes.ts';
import type * as StartCommand from './start-command.ts';
import type { Role } from './start-command.ts';

/*
 * Server commands (start, migrate, keys) load the runtime — Kafka, PostgreSQL, PGlite, BullMQ —
 * which takes about a second; client commands (apply, emit, …) need none of it. So the runtime
 * modules are imported only when a server command runs: start-command.ts in the preSubcommand
 * hook below (which also declares `start --role`, with its role list), the database modules in
 * the actions of migrate and keys create.
 */
type StartModule = typeof StartCommand;
let startModule: StartModule | undefined;

async function serverRuntime() {
  const [{ migrate }, { openDatabase }] = await Promise.all([import('../platform/migrations/migrate.ts'), import('../platform/runtime/infrastructure.ts')]);
  return { migrate, openDatabase };
}

function parseScopes(value: string): Scope[] {
  const list = value.split(',').map((scope) => scope.trim());
  for (const scope of list) {
    if (!(scopes as readonly string[]).includes(scope)) throw new InvalidArgumentError(`unknown scope "${scope}"; use ${scopes.join(', ')}`);
  }
  return list as Scope[];
}

function parseRoles(value: string): Role[] {
  const roles = startModule!.roles;
  const list = value.split(',').map((role) => role.trim());
  for (const role of list) {
    if (!(roles as readonly string[]).includes(role)) throw new InvalidArgumentError(`unknown role "${role}"; use ${roles.join(', ')}`);
  }
  return list as Role[];
}

const program = new Command('vigil')
  .description('Vigil: event-driven automations for data platforms')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) })
  // Usage errors become a CommanderError (exit code 2) instead of commander's own exit(1).
  .exitOverride();

program.hook('preSubcommand', async (_program, command) => {
  if (command.name() !== 'start') return;
  startModule = await import('./start-command.ts');
  command.option('--role <roles>', `comma-separated roles (${startModule.roles.join(', ')})`, parseRoles);
});

program
  .command('start')
  .description('run Vigil: every role in one process, or the ones named with --role')
  .action(async (options: { role?: Role[] }) => {
    const { startVigil, roles } = startModule!;
    await startVigil(loadConfig(), options.role ?? [...roles]);
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    const { migrate, openDatabase } = await serverRuntime();
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
    const { migrate, openDatabase } = await serverRuntime();
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

// Client commands: talk to a running Vigil over HTTP with the SDK (sdk/).
registerApplyCommand(program);
registerValidateCommand(program);
registerEmitCommand(program);
registerEventsCommands(program);
registerAutomationsCommands(program);
registerActionRunsCommands(program);

// `vigil events tail | head`: a closed stdout ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; every other parse error is a usage error.
    process.exit(error.exitCode === 0 ? 0 : exitCodes.usage);
  }
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  // Another Vigil process holds the embedded store: say so plainly, not as a crash log.
  if (error instanceof Error && error.name === 'StoreLockedError') {
    console.error(`vigil: ${error.message}`);
    process.exit(exitCodes.usage);
  }
  const { createLogger } = await import('../platform/logger.ts');
  const logger = createLogger('error');
  logger.fatal({ err: error }, 'vigil failed');
  process.exit(1);
}
