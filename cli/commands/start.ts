import type { Command } from 'commander';
import { loadConfig } from '../../platform/config.ts';
import { commaListOf } from '../option-parsers.ts';
import { roles, type Role } from '../start/roles.ts';

/**
 * `vigil start [--role …]`: runs the composition root (cli/start/). It loads the runtime —
 * Kafka, PostgreSQL, PGlite, BullMQ — which takes about a second, so it is imported only when
 * this command runs; client commands need none of it.
 */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run Vigil: every role in one process, or the ones named with --role')
    .option('--role <roles>', `comma-separated roles (${roles.join(', ')})`, commaListOf(roles, 'role'))
    .action(async (options: { role?: Role[] }) => {
      const { startVigil } = await import('../start/start-vigil.ts');
      await startVigil(loadConfig(), options.role ?? [...roles]);
    });
}
