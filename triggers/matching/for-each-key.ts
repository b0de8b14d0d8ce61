import type { VigilEvent } from '../../schemas/event.ts';
import { labelValue } from './label-match.ts';

/**
 * `for_each` keys: `resource.<label>` or `related.<role>.<label>` (the first related resource
 * with that role). Each distinct combination of values has its own window state.
 */
export interface ForEachValues {
  /** State key: the values, JSON-encoded; "" without `for_each`. */
  readonly key: string;
  readonly values: Readonly<Record<string, string>>;
}

export type ForEachExtractor = (event: VigilEvent) => ForEachValues | null;

const noKey: ForEachValues = { key: '', values: {} };

/** One key as data: the label, and the related role (null for `resource.<label>`). */
interface KeyPart {
  readonly name: string;
  readonly role: string | null;
  readonly label: string;
}

function parseKey(key: string): KeyPart {
  if (key.startsWith('resource.')) return { name: key, role: null, label: key.slice('resource.'.length) };
  const rest = key.slice('related.'.length);
  const dot = rest.indexOf('.');
  return { name: key, role: rest.slice(0, dot), label: rest.slice(dot + 1) };
}

function valueOf(part: KeyPart, event: VigilEvent): string | undefined {
  if (part.role === null) return labelValue(event.resource, part.label);
  const related = event.related;
  for (let i = 0; i < related.length; i++) if (related[i]!.role === part.role) return labelValue(related[i]!, part.label);
  return undefined;
}

/** Compiles the keys; the extractor returns null when the event lacks one of the labels (it then does not match). */
export function compileForEach(keys: readonly string[] | undefined): ForEachExtractor {
  if (!keys || keys.length === 0) return () => noKey;
  const parts = keys.map(parseKey);
  return (event) => {
    const values: Record<string, string> = {};
    const list: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const value = valueOf(part, event);
      if (value === undefined) return null;
      values[part.name] = value;
      list.push(value);
    }
    return { key: JSON.stringify(list), values };
  };
}
