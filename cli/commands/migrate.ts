import type { Command } from 'commander';
import { loadConfig } from '../../platform/config.ts';

/** `vigil migrate`: applies pending database migrations and exits (the database modules load only here). */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const { openMigratedDatabase } = await import('../start/infrastructure.ts');
      const { db, applied } = await openMigratedDatabase(loadConfig());
      try {
        console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'the database is up to date');
      } finally {
        await db.close();
      }
    });
}
