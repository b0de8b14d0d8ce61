/**
 * Globs over event names and label values: `*` matches any run of characters (dots included),
 * every other character matches itself. A pattern starting with `!` excludes what it matches.
 * A list matches when some positive pattern matches (or it has none) and no negative one does.
 */

/** Characters allowed in event-name globs: those of event names, plus `*`. */
const eventGlobPattern = /^!?[A-Za-z0-9_:.*-]+$/;

export interface GlobList {
  test(value: string): boolean;
  /** The positive patterns (without `!`). */
  readonly positives: readonly string[];
  readonly negatives: readonly string[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One glob (without `!`) as a predicate; literal globs compare strings directly. */
export function compileGlob(glob: string): (value: string) => boolean {
  if (!glob.includes('*')) return (value) => value === glob;
  if (/^[^*]*\*$/.test(glob)) {
    const prefix = glob.slice(0, -1);
    return (value) => value.startsWith(prefix);
  }
  const regex = new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return (value) => regex.test(value);
}

export function compileGlobList(patterns: readonly string[]): GlobList {
  const positives = patterns.filter((p) => !p.startsWith('!'));
  const negatives = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  const pos = positives.map(compileGlob);
  const neg = negatives.map(compileGlob);
  return {
    positives,
    negatives,
    test(value) {
      if (pos.length > 0 && !pos.some((m) => m(value))) return false;
      return !neg.some((m) => m(value));
    },
  };
}

/** The literal text before the first `*` (the whole glob when it has none). */
export function literalPrefix(glob: string): string {
  const star = glob.indexOf('*');
  return star === -1 ? glob : glob.slice(0, star);
}

/** A problem with an event-name glob, or null when it is valid. */
export function eventGlobProblem(glob: string): string | null {
  if (glob === '' || glob === '!') return 'must not be empty';
  if (!eventGlobPattern.test(glob)) {
    return 'must be an event name glob: letters, digits, "_", "-", ":", "." and "*" (any characters), optionally starting with "!" to exclude';
  }
  if (glob.includes('..') || /^!?\./.test(glob) || glob.endsWith('.')) return 'must not have empty dot-separated segments';
  return null;
}

/** A problem with a label-value glob, or null when it is valid. */
export function labelGlobProblem(glob: string): string | null {
  if (glob === '!') return 'a lone "!" excludes nothing; write "!pattern"';
  if (glob.length > 1024) return 'must be at most 1024 characters';
  return null;
}

/**
 * Loop protection: `vigil.*` events only reach triggers that name a `vigil.` pattern
 * explicitly (a positive glob whose literal text starts with `vigil.`).
 */
export function namesVigilEvents(list: GlobList): boolean {
  return list.positives.some((p) => p.startsWith('vigil.'));
}
