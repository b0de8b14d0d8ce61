import type { z } from 'zod';
import type { ItemProblem } from '../platform/http/http-error.ts';
import { zodProblems } from './event-normalizer.ts';

/** Events of another format (CloudEvents, OpenLineage) mapped to native events, with the problems of those that did not parse. */
export interface MappedItems {
  readonly items: unknown[];
  readonly problems: ItemProblem[];
  /** Translates a problem path on the mapped native event into the source format's terms. */
  readonly sourcePath: (nativePath: string) => string;
}

/**
 * Parses each value with the format's schema and maps it to a native event; a value that does
 * not parse leaves an `undefined` in its place (so indexes keep matching) and its problems.
 */
export function mapItems<T>(
  values: readonly unknown[],
  schema: z.ZodType<T>,
  toNative: (parsed: T) => Record<string, unknown>,
  sourcePath: (nativePath: string) => string,
): MappedItems {
  const items: unknown[] = [];
  const problems: ItemProblem[] = [];
  for (const [index, value] of values.entries()) {
    const parsed = schema.safeParse(value);
    if (parsed.success) items.push(toNative(parsed.data));
    else {
      problems.push(...zodProblems(index, parsed.error));
      items.push(undefined);
    }
  }
  return { items, problems, sourcePath };
}
