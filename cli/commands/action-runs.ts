import type { Command } from 'commander';
import { actionRunStatuses, type ActionRun, type ActionRunStatus } from '../../sdk/types.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { exitCodes } from '../exit-codes.ts';
import { oneOf, positiveInteger } from '../option-parsers.ts';
import { clientAction, formatTable, oneLine, print, printJson, shortTime } from '../output.ts';

interface ListOptions extends ConnectionOptions {
  readonly status?: ActionRunStatus;
  readonly automation?: string;
  readonly limit: number;
  readonly json?: boolean;
}

function row(run: ActionRun): string[] {
  return [run.id, run.automation_name, run.kind, run.status, String(run.attempts), shortTime(run.created_at), oneLine(run.error, 60)];
}

/** `vigil action-runs list|retry`. */
export function registerActionRunsCommands(program: Command): void {
  const actionRuns = program.command('action-runs').description('what the action workers did; failed runs are the dead-letter list');

  withConnectionOptions(
    actionRuns
      .command('list')
      .description('list action runs, newest first')
      .option('--status <status>', `only runs in this status (${actionRunStatuses.join(', ')})`, oneOf(actionRunStatuses))
      .option('--automation <name>', 'only runs of this automation')
      .option('--limit <n>', 'at most this many runs', positiveInteger, 100)
      .option('--json', 'print JSON'),
  ).action(
    clientAction(async (options: ListOptions) => {
      const client = connect(options);
      const runs: ActionRun[] = [];
      const filter = { ...(options.status ? { status: options.status } : {}), ...(options.automation ? { automation: options.automation } : {}), pageSize: Math.min(options.limit, 1_000) };
      for await (const run of client.actionRuns.query(filter)) {
        runs.push(run);
        if (runs.length >= options.limit) break;
      }
      if (options.json) printJson(runs);
      else for (const line of formatTable(['ID', 'AUTOMATION', 'KIND', 'STATUS', 'ATTEMPTS', 'CREATED', 'ERROR'], runs.map(row))) print(line);
      return exitCodes.ok;
    }),
  );

  withConnectionOptions(actionRuns.command('retry').description('send a failed action run back to the queue with a fresh attempt budget').argument('<id>', 'action run id')).action(
    clientAction(async (id: string, options: ConnectionOptions) => {
      await connect(options).actionRuns.retry(id);
      print(`queued ${id} for retry`);
      return exitCodes.ok;
    }),
  );
}
