import type { Command } from 'commander';
import { incomingEvent, type IncomingEvent } from '../../schemas/event.ts';
import { issuePath } from '../../sdk/prepare-event.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { expandPaths, formatProblem, parseJsonText, readJsonDocuments, type InputProblem } from '../input-files.ts';
import { isoTime, keyValue } from '../option-parsers.ts';
import { clientAction, print, printJson } from '../output.ts';

interface EmitOptions extends ConnectionOptions {
  readonly resource?: string;
  readonly label?: Record<string, string>;
  readonly related?: Record<string, string>;
  readonly payload?: string;
  readonly occurred?: string;
  readonly id?: string;
  readonly follows?: string;
  readonly file?: string[];
  readonly json?: boolean;
}

/** Events per request: well under the server's 10,000 events and 10 MiB. */
const chunkEvents = 1_000;
const chunkBytes = 4 * 1024 * 1024;

interface LocatedEvent {
  readonly event: IncomingEvent;
  readonly bytes: number;
}

function validate(value: unknown, location: Omit<InputProblem, 'path' | 'message'>, problems: InputProblem[]): LocatedEvent | undefined {
  const parsed = incomingEvent.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push({ ...location, path: issuePath(issue.path), message: issue.message });
    return undefined;
  }
  return { event: parsed.data, bytes: Buffer.byteLength(JSON.stringify(parsed.data)) };
}

/** The event described by the command line. */
function eventFromFlags(name: string, options: EmitOptions, problems: InputProblem[]): LocatedEvent | undefined {
  let payload: unknown;
  if (options.payload !== undefined) {
    const parsed = parseJsonText(options.payload);
    if (!parsed.ok) {
      problems.push({ file: '--payload', path: '', message: parsed.message });
      return undefined;
    }
    payload = parsed.value;
  }
  const event = {
    ...(options.id !== undefined ? { id: options.id } : {}),
    ...(options.occurred !== undefined ? { occurred: options.occurred } : {}),
    event: name,
    resource: { ...options.label, id: options.resource },
    ...(options.related ? { related: Object.entries(options.related).map(([role, id]) => ({ id, role })) } : {}),
    ...(payload !== undefined ? { payload } : {}),
    ...(options.follows !== undefined ? { follows: options.follows } : {}),
  };
  return validate(event, { file: 'event' }, problems);
}

/** The events of -f files: a JSON object, a JSON array, or NDJSON (one event per line). */
async function eventsFromFiles(paths: readonly string[], problems: InputProblem[]): Promise<LocatedEvent[]> {
  const expanded = await expandPaths(paths, ['.json', '.ndjson', '.jsonl']);
  const read = await readJsonDocuments(expanded.files);
  problems.push(...expanded.problems, ...read.problems);
  const events: LocatedEvent[] = [];
  for (const document of read.documents) {
    const location = { file: document.file, ...(document.line !== undefined ? { line: document.line } : {}) };
    const items = Array.isArray(document.value) ? document.value : [document.value];
    items.forEach((item, index) => {
      const event = validate(item, { ...location, ...(Array.isArray(document.value) ? { index } : {}) }, problems);
      if (event) events.push(event);
    });
  }
  if (events.length === 0 && problems.length === 0) problems.push({ file: paths.join(', '), path: '', message: 'holds no events' });
  return events;
}

function chunks(events: readonly LocatedEvent[]): IncomingEvent[][] {
  const result: IncomingEvent[][] = [];
  let current: IncomingEvent[] = [];
  let bytes = 0;
  for (const item of events) {
    if (current.length > 0 && (current.length >= chunkEvents || bytes + item.bytes > chunkBytes)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item.event);
    bytes += item.bytes + 1;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** `vigil emit <event-name> --resource <id> …` or `vigil emit -f events.ndjson`: send events, print their ids. */
export function registerEmitCommand(program: Command): void {
  const command = withConnectionOptions(
    program
      .command('emit')
      .description('send events and print their ids (one per line): one from the flags, or every event in files')
      .argument('[event-name]', 'dotted event name, e.g. airflow.dag_run.success')
      .option('--resource <id>', 'resource id (required with <event-name>)')
      .option('--label <key=value>', 'resource label (repeatable)', keyValue)
      .option('--related <role=id>', 'related resource by role (repeatable)', keyValue)
      .option('--payload <json>', 'payload: a JSON object')
      .option('--occurred <iso>', 'when it happened (default: now, set by the server)', isoTime)
      .option('--id <id>', 'event id (default: a new uuidv7); resending the same id deduplicates')
      .option('--follows <id>', 'id of the causal predecessor event')
      .option('-f, --file <paths...>', 'events from .json (an object or an array) or .ndjson/.jsonl files; "-" reads stdin')
      .option('--json', 'print the server\'s answer as JSON instead of ids'),
  );
  command.action(
    clientAction(async (name: string | undefined, options: EmitOptions) => {
      const flagsUsed = name !== undefined || options.resource !== undefined || options.payload !== undefined || options.label !== undefined;
      if (options.file && flagsUsed) command.error('error: give either <event-name> with --resource, or -f <file>, not both', { exitCode: exitCodes.usage, code: 'vigil.usage' });
      if (!options.file && name === undefined) command.error('error: missing <event-name> (or -f <file>)', { exitCode: exitCodes.usage, code: 'vigil.usage' });
      if (!options.file && options.resource === undefined) command.error('error: --resource <id> is required with <event-name>', { exitCode: exitCodes.usage, code: 'vigil.usage' });

      const problems: InputProblem[] = [];
      const events = options.file ? await eventsFromFiles(options.file, problems) : [eventFromFlags(name!, options, problems)].filter((event) => event !== undefined);
      if (problems.length > 0) {
        throw new CliError(exitCodes.invalidInput, `${problems.length} problem${problems.length === 1 ? '' : 's'} in the events; nothing was sent`, problems.map(formatProblem));
      }

      const client = connect(options);
      const ids: string[] = [];
      for (const chunk of chunks(events)) {
        try {
          const result = await client.events.send(chunk);
          ids.push(...result.ids);
          if (!options.json) for (const id of result.ids) print(id);
        } catch (error) {
          if (ids.length > 0) process.stderr.write(`vigil: ${ids.length} of ${events.length} events were accepted before the error below\n`);
          throw error;
        }
      }
      if (options.json) printJson({ accepted: ids.length, ids });
      return exitCodes.ok;
    }),
  );
}
