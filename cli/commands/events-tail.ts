import type { Command } from 'commander';
import { sleep } from '../../sdk/backoff.ts';
import { VigilApiError } from '../../sdk/errors.ts';
import type { EventFilter, VigilEvent } from '../../sdk/types.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { describeApiError, exitCodes } from '../exit-codes.ts';
import { keyValue, oneOf } from '../option-parsers.ts';
import { clientAction, print } from '../output.ts';

interface TailOptions extends ConnectionOptions {
  readonly event?: string;
  readonly resource?: string;
  readonly label?: Record<string, string>;
  readonly format: 'json' | 'pretty';
}

/** `08:59:00.000Z airflow.dag_run.success airflow.dag.sales_refresh env=prod {"duration_s":812}` */
function prettyEvent(event: VigilEvent): string {
  const labels = Object.entries(event.resource)
    .filter(([key]) => key !== 'id')
    .map(([key, value]) => `${key}=${value}`);
  const payload = Object.keys(event.payload).length > 0 ? JSON.stringify(event.payload) : '';
  return [event.occurred, event.event, event.resource.id, ...labels, payload].filter((part) => part !== '').join(' ');
}

/** Statuses after which reconnecting cannot help. */
const finalStatuses = new Set([400, 401, 403, 404]);

/** `vigil events tail`: the live stream, one JSON line per event, until Ctrl-C; reconnects when the connection drops. */
export function registerEventsCommands(program: Command): void {
  const events = program.command('events').description('the event stream');
  withConnectionOptions(
    events
      .command('tail')
      .description('print new events as they are stored, one JSON line each, until Ctrl-C')
      .option('--event <glob>', 'event-name glob ("*" matches anything; a leading "!" negates)')
      .option('--resource <id>', 'resource id')
      .option('--label <key=value>', 'resource label that must be equal (repeatable)', keyValue)
      .option('--format <format>', 'json (one line per event) or pretty', oneOf(['json', 'pretty'] as const), 'json'),
  ).action(
    clientAction(async (options: TailOptions) => {
      const client = connect(options);
      const filter: EventFilter = {
        ...(options.event !== undefined ? { event: options.event } : {}),
        ...(options.resource !== undefined ? { resource: options.resource } : {}),
        ...(options.label ? { labels: options.label } : {}),
      };
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const write = options.format === 'pretty' ? (event: VigilEvent) => print(prettyEvent(event)) : (event: VigilEvent) => print(JSON.stringify(event));
      let connected = false;
      let failures = 0;
      try {
        while (!stop.signal.aborted) {
          try {
            for await (const event of client.events.stream(filter, {
              signal: stop.signal,
              onOpen: () => {
                if (connected) process.stderr.write('vigil: reconnected; events stored while disconnected were not shown\n');
                connected = true;
                failures = 0;
              },
            })) {
              write(event);
            }
            if (stop.signal.aborted) break;
            process.stderr.write('vigil: the server closed the stream; reconnecting\n');
          } catch (error) {
            // Before the first connection, or when retrying cannot help: fail with the reason.
            if (!connected || (error instanceof VigilApiError && finalStatuses.has(error.status))) throw error;
            process.stderr.write(`vigil: stream lost (${error instanceof VigilApiError ? describeApiError(error) : String(error)}); reconnecting\n`);
          }
          failures++;
          await sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), stop.signal);
        }
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      return exitCodes.ok;
    }),
  );
}
