import type { Command } from 'commander';
import type { Firing } from '../../sdk/types.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { exitCodes } from '../exit-codes.ts';
import { isoTime, oneOf, positiveInteger } from '../option-parsers.ts';
import { clientAction, formatTable, oneLine, print, printJson, shortTime } from '../output.ts';

const firingStatuses = ['triggered', 'resolved'] as const;

interface ListOptions extends ConnectionOptions {
  readonly automation?: string;
  readonly status?: (typeof firingStatuses)[number];
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly json?: boolean;
}

/** The firing's for_each key as `k=v k=v`; `-` for an automation without for_each. */
function keyOf(firing: Firing): string {
  const pairs = Object.entries(firing.for_each).map(([key, value]) => `${key}=${value}`);
  return pairs.length > 0 ? oneLine(pairs.join(' '), 60) : '-';
}

function row(firing: Firing): string[] {
  return [firing.id, firing.automation_name, firing.status, shortTime(firing.triggered_at), shortTime(firing.resolved_at), shortTime(firing.deadline), String(firing.count), keyOf(firing)];
}

/** `vigil firings list`. */
export function registerFiringsCommands(program: Command): void {
  const firings = program.command('firings').description('when automations fired, and whether they resolved');

  withConnectionOptions(
    firings
      .command('list')
      .description('list firings of every automation (or one), newest first')
      .option('--automation <name>', 'only the firings of this automation')
      .option('--status <status>', `only firings in this status (${firingStatuses.join(', ')})`, oneOf(firingStatuses))
      .option('--since <iso>', 'only firings triggered at or after this time (ISO 8601 with a time zone)', isoTime)
      .option('--until <iso>', 'only firings triggered before this time', isoTime)
      .option('--limit <n>', 'at most this many firings', positiveInteger, 100)
      .option('--json', 'print JSON'),
  ).action(
    clientAction(async (options: ListOptions) => {
      const client = connect(options);
      const list: Firing[] = [];
      const filter = {
        ...(options.automation !== undefined ? { automation: options.automation } : {}),
        ...(options.status ? { status: options.status } : {}),
        ...(options.since ? { since: options.since } : {}),
        ...(options.until ? { until: options.until } : {}),
        pageSize: Math.min(options.limit, 1_000),
      };
      for await (const firing of client.firings.query(filter)) {
        list.push(firing);
        if (list.length >= options.limit) break;
      }
      if (options.json) printJson(list);
      else for (const line of formatTable(['ID', 'AUTOMATION', 'STATUS', 'TRIGGERED', 'RESOLVED', 'DEADLINE', 'EVENTS', 'KEY'], list.map(row))) print(line);
      return exitCodes.ok;
    }),
  );
}
