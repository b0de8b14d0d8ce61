/**
 * Globs over event names and label values: `*` matches any run of characters (dots included),
 * every other character matches itself. A pattern starting with `!` excludes what it matches.
 * A list matches when some positive pattern matches (or it has none) and no negative one does.
 */

export interface GlobList {
  test(value: string): boolean;
  /** The positive patterns (without `!`). */
  readonly positives: readonly string[];
  readonly negatives: readonly string[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A compiled glob is data, not a closure: a kind and a text, tested by one function with a
 * switch. Every automation using the same glob shares one object (interned by text), so the
 * matcher's call sites stay monomorphic and 10,000 automations do not mean 10,000 closures.
 */
const literal = 0;
const prefix = 1;
const suffix = 2;
const any = 3;
const pattern = 4;

class Glob {
  readonly kind: number;
  readonly text: string;
  readonly regex: RegExp | null;
  constructor(kind: number, text: string, regex: RegExp | null) {
    this.kind = kind;
    this.text = text;
    this.regex = regex;
  }
}

function globMatches(g: Glob, value: string): boolean {
  switch (g.kind) {
    case literal:
      return value === g.text;
    case prefix:
      return value.startsWith(g.text);
    case suffix:
      return value.endsWith(g.text);
    case any:
      return true;
    default:
      return g.regex!.test(value);
  }
}

/** Interning caches: bounded (cleared when full), so a stream of distinct globs cannot grow them without limit. */
const maxInterned = 50_000;
const globs = new Map<string, Glob>();
const lists = new Map<string, CompiledGlobList>();

function internedGlob(glob: string): Glob {
  let g = globs.get(glob);
  if (g === undefined) {
    const star = glob.indexOf('*');
    if (star === -1) g = new Glob(literal, glob, null);
    else if (/^\*+$/.test(glob)) g = new Glob(any, '', null);
    else if (star === glob.length - 1) g = new Glob(prefix, glob.slice(0, -1), null);
    else if (star === 0 && glob.indexOf('*', 1) === -1) g = new Glob(suffix, glob.slice(1), null);
    else g = new Glob(pattern, glob, new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`, 's'));
    if (globs.size >= maxInterned) globs.clear();
    globs.set(glob, g);
  }
  return g;
}

class CompiledGlobList implements GlobList {
  readonly positives: readonly string[];
  readonly negatives: readonly string[];
  readonly #pos: readonly Glob[];
  readonly #neg: readonly Glob[];
  constructor(positives: readonly string[], negatives: readonly string[]) {
    this.positives = positives;
    this.negatives = negatives;
    this.#pos = positives.map(internedGlob);
    this.#neg = negatives.map(internedGlob);
  }

  test(value: string): boolean {
    const pos = this.#pos;
    if (pos.length > 0) {
      let hit = false;
      for (let i = 0; i < pos.length; i++) {
        if (globMatches(pos[i]!, value)) {
          hit = true;
          break;
        }
      }
      if (!hit) return false;
    }
    const neg = this.#neg;
    for (let i = 0; i < neg.length; i++) if (globMatches(neg[i]!, value)) return false;
    return true;
  }
}

/** Compiles a glob list; equal lists share one (immutable) compiled list. */
export function compileGlobList(patterns: readonly string[]): GlobList {
  const key = JSON.stringify(patterns);
  let list = lists.get(key);
  if (list === undefined) {
    const positives = patterns.filter((p) => !p.startsWith('!'));
    const negatives = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    list = new CompiledGlobList(Object.freeze(positives), Object.freeze(negatives));
    if (lists.size >= maxInterned) lists.clear();
    lists.set(key, list);
  }
  return list;
}

/** The literal text before the first `*` (the whole glob when it has none). */
export function literalPrefix(glob: string): string {
  const star = glob.indexOf('*');
  return star === -1 ? glob : glob.slice(0, star);
}

/**
 * Loop protection: `vigil.*` events only reach triggers that name a `vigil.` pattern
 * explicitly (a positive glob whose literal text starts with `vigil.`).
 */
export function namesVigilEvents(list: GlobList): boolean {
  return list.positives.some((p) => p.startsWith('vigil.'));
}
