import { Command, CommanderError } from 'commander';
import { ConfigError } from '../platform/config.ts';
import { registerActionRunsCommands } from './commands/action-runs.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerAutomationsCommands } from './commands/automations.ts';
import { registerEmitCommand } from './commands/emit.ts';
import { registerEventsCommands } from './commands/events-tail.ts';
import { registerFiringsCommands } from './commands/firings.ts';
import { registerKeysCommands } from './commands/keys.ts';
import { registerMigrateCommand } from './commands/migrate.ts';
import { registerStartCommand } from './commands/start.ts';
import { registerValidateCommand } from './commands/validate.ts';
import { exitCodes } from './exit-codes.ts';

const program = new Command('vigil')
  .description('Vigil: event-driven automations for data platforms')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) })
  // Usage errors become a CommanderError (exit code 2) instead of commander's own exit(1).
  .exitOverride();

// Server commands (start, migrate) load the runtime — Kafka, PostgreSQL, PGlite, BullMQ —
// only in their actions; client commands need none of it. `keys` is both: through a running
// Vigil's API, or (loading the database modules only then) on the database directly.
registerStartCommand(program);
registerMigrateCommand(program);
registerKeysCommands(program);

// Client commands: talk to a running Vigil over HTTP with the SDK (sdk/).
registerApplyCommand(program);
registerValidateCommand(program);
registerEmitCommand(program);
registerEventsCommands(program);
registerAutomationsCommands(program);
registerActionRunsCommands(program);
registerFiringsCommands(program);

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
