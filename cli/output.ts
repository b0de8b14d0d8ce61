import { CommanderError } from 'commander';
import { reportFailure } from './exit-codes.ts';

/** Writes a line to stdout. */
export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a value as pretty JSON to stdout (for --json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain-text table: a header row and left-aligned columns separated by two spaces, no trailing spaces. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** `2026-11-22T08:59:00.123Z` → `2026-11-22 08:59:00Z`; `-` when absent. */
export function shortTime(value: string | null | undefined): string {
  if (!value) return '-';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** One line, cut to `max` characters. */
export function oneLine(value: string | null | undefined, max = 60): string {
  if (!value) return '-';
  const text = value.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Wraps a client command's action: its result is the exit code (0 when it returns nothing);
 * any failure is one line on stderr and an exit code (1 invalid input, 3 server/network).
 */
export function clientAction<A extends unknown[]>(run: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = (await run(...args)) ?? 0;
    } catch (error) {
      // Usage errors (command.error) were printed by commander; main.ts turns them into exit code 2.
      if (error instanceof CommanderError) throw error;
      process.exitCode = reportFailure(error);
    }
  };
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
