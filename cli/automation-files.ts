import { validateAutomation, type Automation } from '../schemas/automation.ts';
import { expandPaths, readJsonDocuments, type InputProblem } from './input-files.ts';

/** A validated automation and where it came from. */
export interface LocalAutomation {
  readonly file: string;
  readonly index?: number;
  /** Validated, with defaults filled in (what the server stores). */
  readonly automation: Automation;
  /** The document as written in the file (what is sent). */
  readonly document: Record<string, unknown>;
}

function nameOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const name = (value as Record<string, unknown>).name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Reads automation files (`.json`; a file holds one automation or an array of them; a
 * directory means every `.json` file under it) and validates every document with the same
 * schema the server uses. Duplicate names across the set are a problem too.
 */
export async function loadAutomations(paths: readonly string[]): Promise<{ automations: LocalAutomation[]; problems: InputProblem[] }> {
  const expanded = await expandPaths(paths, ['.json']);
  const read = await readJsonDocuments(expanded.files);
  const problems: InputProblem[] = [...expanded.problems, ...read.problems];
  const automations: LocalAutomation[] = [];
  const seen = new Map<string, string>();
  for (const document of read.documents) {
    const items: Array<{ value: unknown; index: number | undefined }> = Array.isArray(document.value)
      ? (document.value as unknown[]).map((value, index) => ({ value, index }))
      : [{ value: document.value, index: undefined }];
    if (Array.isArray(document.value) && items.length === 0) problems.push({ file: document.file, path: '', message: 'the array holds no automations' });
    for (const { value, index } of items) {
      const location = { file: document.file, ...(index !== undefined ? { index } : {}) };
      const name = nameOf(value);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        problems.push({ ...location, path: '', message: `must be an automation object${index === undefined ? ' or an array of them' : ''}` });
        continue;
      }
      const result = validateAutomation(value);
      if (!result.ok) {
        for (const error of result.errors) problems.push({ ...location, ...(name ? { name } : {}), path: error.path, message: error.message });
        continue;
      }
      const where = `${document.file}${index !== undefined ? `[${index}]` : ''}`;
      const previous = seen.get(result.automation.name);
      if (previous) {
        problems.push({ ...location, name: result.automation.name, path: 'name', message: `is also used by ${previous}; names must be unique` });
        continue;
      }
      seen.set(result.automation.name, where);
      automations.push({ ...location, automation: result.automation, document: value as Record<string, unknown> });
    }
  }
  return { automations, problems };
}
