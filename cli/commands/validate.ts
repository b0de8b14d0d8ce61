import type { Command } from 'commander';
import { loadAutomations } from '../automation-files.ts';
import { exitCodes } from '../exit-codes.ts';
import { formatProblem } from '../input-files.ts';
import { clientAction, print, printJson } from '../output.ts';

interface ValidateOptions {
  readonly file: string[];
  readonly json?: boolean;
}

/** `vigil validate -f <file|dir>`: local validation with the server's schema; no server needed. */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check automation files locally (the same schema the server uses); no server needed')
    .requiredOption('-f, --file <paths...>', 'automation files or directories (.json; a file may hold one automation or an array)')
    .option('--json', 'print the result as JSON')
    .action(
      clientAction(async (options: ValidateOptions) => {
        const { automations, problems } = await loadAutomations(options.file);
        if (options.json) {
          printJson({
            valid: problems.length === 0,
            automations: automations.map((item) => ({ name: item.automation.name, file: item.file, ...(item.index !== undefined ? { index: item.index } : {}) })),
            errors: problems,
          });
        } else {
          for (const item of automations) print(`valid    ${item.automation.name}  ${item.file}${item.index !== undefined ? `[${item.index}]` : ''}`);
          for (const problem of problems) process.stderr.write(`${formatProblem(problem)}\n`);
        }
        if (problems.length > 0) {
          if (!options.json) process.stderr.write(`vigil: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the automation files\n`);
          return exitCodes.invalidInput;
        }
        return exitCodes.ok;
      }),
    );
}
