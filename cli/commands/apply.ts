import type { Command } from 'commander';
import { VigilApiError } from '../../sdk/errors.ts';
import { loadAutomations } from '../automation-files.ts';
import type { ApiWarning } from '../../sdk/types.ts';
import { planApply, sourceOf, type PlanAction, type PlanStep } from '../automation-plan.ts';
import { connect, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { CliError, describeApiError, exitCodeOf, exitCodes } from '../exit-codes.ts';
import { formatProblem } from '../input-files.ts';
import { formatChange } from '../json-diff.ts';
import { clientAction, print, printJson } from '../output.ts';
import { asError } from '../../platform/as-error.ts';

interface ApplyOptions extends ConnectionOptions {
  readonly file: string[];
  readonly prune?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

const labels: Record<PlanAction, string> = { created: 'created', changed: 'changed', unchanged: 'unchanged', deleted: 'deleted' };

function printStep(step: PlanStep): void {
  const where = step.source ?? '(not in the files: --prune)';
  print(`${labels[step.action].padEnd(10)} ${step.name}  ${where}`);
  for (const change of step.changes ?? []) print(`    ${formatChange(change)}`);
}

function count(steps: readonly PlanStep[], action: PlanAction): number {
  return steps.filter((step) => step.action === action).length;
}

/** A failed write as a CliError: server-side validation problems are listed with the file they came from. */
function writeFailure(step: PlanStep, error: unknown, done: number): Error {
  if (!(error instanceof VigilApiError)) return asError(error);
  const applied = done > 0 ? ` (${done} change${done === 1 ? ' was' : 's were'} applied before it)` : '';
  const verb = step.action === 'deleted' ? 'delete' : 'apply';
  const details = (error.errors ?? []).map((problem) => formatProblem({ file: step.source ?? step.name, name: step.name, path: problem.path, message: problem.message }));
  return new CliError(exitCodeOf(error), `cannot ${verb} ${step.name}: ${describeApiError(error)}${applied}`, details);
}

/** `vigil apply -f <file|dir> [--prune] [--dry-run]`: validate locally, show the plan, upsert by name. */
export function registerApplyCommand(program: Command): void {
  withConnectionOptions(
    program
      .command('apply')
      .description('create or update automations from JSON files (upsert by name); shows what changes first')
      .requiredOption('-f, --file <paths...>', 'automation files or directories (.json; a file may hold one automation or an array)')
      .option('--prune', 'also delete automations on the server that the files do not define')
      .option('--dry-run', 'show the plan and change nothing')
      .option('--json', 'print the plan and the outcome as JSON'),
  ).action(
    clientAction(async (options: ApplyOptions) => {
      const { automations, problems } = await loadAutomations(options.file);
      if (problems.length > 0) {
        throw new CliError(exitCodes.invalidInput, `${problems.length} problem${problems.length === 1 ? '' : 's'} in the automation files; nothing was applied`, problems.map(formatProblem));
      }
      const client = connect(options);
      const stored = await client.automations.list();
      const steps = planApply(automations, stored, options.prune === true);
      const writes = steps.filter((step) => step.action !== 'unchanged');

      if (!options.json) for (const step of steps) printStep(step);
      if (options.dryRun || writes.length === 0) {
        if (options.json) printJson({ dry_run: options.dryRun === true, applied: false, plan: steps.map(({ local: _local, ...step }) => step) });
        else {
          const summary = `${count(steps, 'created')} to create, ${count(steps, 'changed')} to change, ${count(steps, 'unchanged')} unchanged${options.prune ? `, ${count(steps, 'deleted')} to delete` : ''}`;
          print(options.dryRun ? `dry run: ${summary}; nothing was applied` : `nothing to apply: ${summary}`);
        }
        return exitCodes.ok;
      }

      const outcome: Record<PlanAction, number> = { created: 0, changed: 0, unchanged: count(steps, 'unchanged'), deleted: 0 };
      const results: Array<{ name: string; action: PlanAction; warnings?: readonly ApiWarning[] }> = [];
      let done = 0;
      for (const step of writes) {
        try {
          if (step.action === 'deleted') {
            await client.automations.delete(step.name);
            outcome.deleted++;
            results.push({ name: step.name, action: 'deleted' });
          } else {
            const result = await client.automations.put(step.local!.document as Parameters<typeof client.automations.put>[0]);
            const action: PlanAction = result.created ? 'created' : result.changed ? 'changed' : 'unchanged';
            outcome[action]++;
            const warnings = result.warnings ?? [];
            results.push({ name: step.name, action, ...(warnings.length > 0 ? { warnings } : {}) });
            // Saved, but it cannot work yet (e.g. an action names a connection that does not exist).
            if (!options.json) for (const warning of warnings) process.stderr.write(`vigil: warning: ${sourceOf(step.local!)} (${step.name}): ${warning.path}: ${warning.message}\n`);
          }
          done++;
        } catch (error) {
          throw writeFailure(step, error, done);
        }
      }
      if (options.json) printJson({ dry_run: false, applied: true, plan: steps.map(({ local: _local, ...step }) => step), results });
      else print(`applied: ${outcome.created} created, ${outcome.changed} changed, ${outcome.unchanged} unchanged${options.prune ? `, ${outcome.deleted} deleted` : ''}`);
      return exitCodes.ok;
    }),
  );
}
