import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** A JSON document read from a file; `line` is set for NDJSON lines. */
export interface JsonDocument {
  readonly file: string;
  readonly line?: number;
  readonly value: unknown;
}

/** A problem with an input file, located as precisely as known. */
export interface InputProblem {
  readonly file: string;
  /** Position in a file that holds an array. */
  readonly index?: number;
  /** Line of an NDJSON file. */
  readonly line?: number;
  /** Name of the item (an automation's name), when known. */
  readonly name?: string;
  /** Dotted path inside the item; empty for the item itself. */
  readonly path: string;
  readonly message: string;
}

/** `file[2] (name): trigger.within: message` */
export function formatProblem(problem: InputProblem): string {
  const where =
    `${problem.file}${problem.line !== undefined ? `:${problem.line}` : ''}${problem.index !== undefined ? `[${problem.index}]` : ''}` +
    `${problem.name ? ` (${problem.name})` : ''}`;
  return `${where}: ${problem.path ? `${problem.path}: ` : ''}${problem.message}`;
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}

/** Parses JSON with the position of a syntax error as line and column. */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const at = position ? ` (${lineAndColumn(text, Number(position[1]))})` : '';
    return { ok: false, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}${at}` };
  }
}

/** Every `.json` file under a directory (recursively, dot-entries skipped), sorted. */
async function jsonFilesUnder(directory: string, extensions: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const entries = await readdir(directory, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await jsonFilesUnder(path, extensions)));
    else if (entry.isFile() && extensions.includes(extname(entry.name).toLowerCase())) files.push(path);
  }
  return files;
}

/** Expands files and directories into the list of files to read; problems for paths that do not exist or hold nothing. */
export async function expandPaths(paths: readonly string[], extensions: readonly string[]): Promise<{ files: string[]; problems: InputProblem[] }> {
  const files: string[] = [];
  const problems: InputProblem[] = [];
  for (const path of paths) {
    if (path === '-') {
      files.push('-');
      continue;
    }
    let info;
    try {
      info = await stat(path);
    } catch {
      problems.push({ file: path, path: '', message: 'no such file or directory' });
      continue;
    }
    if (info.isDirectory()) {
      const found = await jsonFilesUnder(path, extensions);
      if (found.length === 0) problems.push({ file: path, path: '', message: `the directory holds no ${extensions.join(' or ')} files` });
      files.push(...found);
    } else {
      files.push(path);
    }
  }
  return { files: [...new Set(files)], problems };
}

async function readText(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads JSON documents: a `.json` file is one document (callers unpack arrays); an `.ndjson` /
 * `.jsonl` file (or stdin that is not one JSON document) is one document per non-empty line.
 */
export async function readJsonDocuments(files: readonly string[]): Promise<{ documents: JsonDocument[]; problems: InputProblem[] }> {
  const documents: JsonDocument[] = [];
  const problems: InputProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readText(file);
    } catch (error) {
      problems.push({ file, path: '', message: `cannot read: ${error instanceof Error ? error.message : String(error)}` });
      continue;
    }
    const name = file === '-' ? '<stdin>' : file;
    const ndjson = ['.ndjson', '.jsonl'].includes(extname(file).toLowerCase());
    if (!ndjson) {
      const parsed = parseJsonText(text);
      if (parsed.ok) {
        documents.push({ file: name, value: parsed.value });
        continue;
      }
      if (file !== '-' || text.trim() === '') {
        problems.push({ file: name, path: '', message: text.trim() === '' ? 'the file is empty' : parsed.message });
        continue;
      }
    }
    const lines = text.split(/\r?\n/);
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      const parsed = parseJsonText(line);
      if (parsed.ok) documents.push({ file: name, line: index + 1, value: parsed.value });
      else problems.push({ file: name, line: index + 1, path: '', message: parsed.message });
    });
  }
  return { documents, problems };
}
