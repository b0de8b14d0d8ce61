import type { Command } from 'commander';
import type { IncomingEvent } from '../../schemas/event.ts';
import type { AutomationInput, AutomationTestInput, AutomationTestResult, Explanation, StoredAutomation } from '../../sdk/types.ts';
import { loadAutomations } from '../automation-files.ts';
import { storedDocument } from '../automation-plan.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { expandPaths, formatProblem, readJsonDocuments, type InputProblem } from '../input-files.ts';
import { isoTime } from '../option-parsers.ts';
import { clientAction, formatTable, oneLine, print, printJson, shortTime } from '../output.ts';

interface ListOptions extends ConnectionOptions {
  readonly json?: boolean;
}

interface TestOptions extends ConnectionOptions {
  readonly file?: string[];
  readonly definition?: string;
  readonly since?: string;
  readonly until?: string;
  readonly json?: boolean;
}

function listRow(record: StoredAutomation): string[] {
  const document = storedDocument(record) as { name?: string; enabled?: boolean; trigger?: { type?: string; posture?: string }; actions?: unknown[]; actions_on_resolve?: unknown[] };
  const trigger = document.trigger?.type === 'event' && document.trigger.posture ? `event/${document.trigger.posture}` : (document.trigger?.type ?? '-');
  const onResolve = document.actions_on_resolve?.length ?? 0;
  const meta = record as { updated_at?: string; updatedAt?: string };
  return [
    document.name ?? '-',
    document.enabled === false ? 'no' : 'yes',
    trigger,
    `${document.actions?.length ?? 0}${onResolve > 0 ? ` (+${onResolve} on resolve)` : ''}`,
    shortTime(meta.updated_at ?? meta.updatedAt),
  ];
}

/** Events for a dry run from files: a JSON array or object, or NDJSON. */
async function testEvents(paths: readonly string[]): Promise<IncomingEvent[]> {
  const expanded = await expandPaths(paths, ['.json', '.ndjson', '.jsonl']);
  const read = await readJsonDocuments(expanded.files);
  const problems: InputProblem[] = [...expanded.problems, ...read.problems];
  const events = read.documents.flatMap((document) => (Array.isArray(document.value) ? (document.value as unknown[]) : [document.value]));
  if (problems.length === 0 && events.length === 0) problems.push({ file: paths.join(', '), path: '', message: 'holds no events' });
  if (problems.length > 0) throw new CliError(exitCodes.invalidInput, `cannot read the test events`, problems.map(formatProblem));
  return events as IncomingEvent[];
}

/** An unsaved definition for a dry run: the automation named `name` in a local file (validated locally first). */
async function localDefinition(file: string, name: string): Promise<Record<string, unknown>> {
  const { automations, problems } = await loadAutomations([file]);
  if (problems.length > 0) throw new CliError(exitCodes.invalidInput, `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}`, problems.map(formatProblem));
  const match = automations.find((item) => item.automation.name === name) ?? (automations.length === 1 ? automations[0] : undefined);
  if (!match) throw new CliError(exitCodes.invalidInput, `${file} defines no automation named ${JSON.stringify(name)}`);
  return { ...match.document, name };
}

const shownExplanations = 20;

function printTestResult(name: string, result: AutomationTestResult): void {
  const resolved = result.resolved ? ` (${result.resolved} resolved later)` : '';
  print(`${name} would have fired ${result.fired} time${result.fired === 1 ? '' : 's'}${resolved}`);
  for (const firing of result.firings) {
    const parts = [
      shortTime(firing.at ?? firing.triggered_at),
      `${firing.count} event${firing.count === 1 ? '' : 's'}`,
      firing.deadline ? `deadline ${shortTime(firing.deadline)}` : '',
      Object.entries(firing.for_each ?? {}).map(([key, value]) => `${key}=${value}`).join(' '),
      firing.resolved_at ? `resolved ${shortTime(firing.resolved_at)}` : '',
    ].filter((part) => part !== '');
    print(`  fired     ${parts.join('  ')}`);
  }
  if (result.firings_not_listed) print(`  … ${result.firings_not_listed} more firings (not listed by the server)`);
  const explanations: readonly Explanation[] = result.explanations;
  const total = result.events ?? explanations.length;
  const matched = result.matched ?? explanations.filter((explanation) => explanation.matched).length;
  if (total > 0) print(`${matched} of ${total} events matched the trigger${result.duplicates ? `; ${result.duplicates} duplicates counted once` : ''}${result.late ? `; ${result.late} too late to count` : ''}`);
  const unmatched = explanations.filter((explanation) => !explanation.matched);
  for (const explanation of unmatched.slice(0, shownExplanations)) {
    const reasons = explanation.clauses.filter((clause) => !clause.matched).map((clause) => `${clause.clause}: ${clause.detail}`);
    print(`  no match  ${explanation.event}  ${oneLine(reasons.join('; '), 160)}`);
  }
  if (unmatched.length > shownExplanations) print(`  … ${unmatched.length - shownExplanations} more events did not match (--json shows all)`);
}

/** `vigil automations list|get|test`. */
export function registerAutomationsCommands(program: Command): void {
  const automations = program.command('automations').description('automations on the server');

  withConnectionOptions(automations.command('list').description('list automations: name, enabled, trigger type, actions, last update').option('--json', 'print JSON')).action(
    clientAction(async (options: ListOptions) => {
      const list = await connect(options).automations.list();
      if (options.json) {
        printJson(list);
        return exitCodes.ok;
      }
      const rows = list.map(listRow).sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
      for (const line of formatTable(['NAME', 'ENABLED', 'TRIGGER', 'ACTIONS', 'UPDATED'], rows)) print(line);
      return exitCodes.ok;
    }),
  );

  withConnectionOptions(automations.command('get').description('print one automation as JSON').argument('<name>', 'automation name')).action(
    clientAction(async (name: string, options: ConnectionOptions) => {
      printJson(await connect(options).automations.get(name));
      return exitCodes.ok;
    }),
  );

  const test = withConnectionOptions(
    automations
      .command('test')
      .description('dry run: would the automation have fired for these events, or for the stored history of a time range? Changes nothing')
      .argument('<name>', 'automation name')
      .option('-f, --file <paths...>', 'events to test with (.json object or array, or .ndjson)')
      .option('--since <iso>', 'start of the history range (with --until)', isoTime)
      .option('--until <iso>', 'end of the history range (with --since)', isoTime)
      .option('--definition <file>', 'test this local, unsaved definition instead of the stored one (validated locally first)')
      .option('--json', 'print the full result as JSON'),
  );
  test.action(
    clientAction(async (name: string, options: TestOptions) => {
      const range = options.since !== undefined || options.until !== undefined;
      if (options.file && range) test.error('error: give either -f <file> or --since/--until, not both', { exitCode: exitCodes.usage, code: 'vigil.usage' });
      if (!options.file && !range) test.error('error: give -f <file> with events, or --since <iso> --until <iso>', { exitCode: exitCodes.usage, code: 'vigil.usage' });
      if (range && (options.since === undefined || options.until === undefined)) test.error('error: --since and --until go together', { exitCode: exitCodes.usage, code: 'vigil.usage' });
      const automation = options.definition !== undefined ? { automation: (await localDefinition(options.definition, name)) as AutomationInput } : {};
      const input: AutomationTestInput = options.file ? { events: await testEvents(options.file), ...automation } : { since: options.since!, until: options.until!, ...automation };
      const result = await connect(options).automations.test(name, input);
      if (options.json) printJson(result);
      else printTestResult(name, result);
      return exitCodes.ok;
    }),
  );
}
