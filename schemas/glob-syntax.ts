/**
 * The syntax of globs over event names and label values (`*` matches any run of characters, a
 * leading `!` excludes). triggers/matching/event-name-glob.ts compiles and matches them.
 */

/** Characters allowed in event-name globs: those of event names, plus `*`. */
const eventGlobPattern = /^!?[A-Za-z0-9_:.*-]+$/;

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
