import type { VigilEvent } from '../../schemas/event.ts';

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

function labelOf(labels: Readonly<Record<string, string>>, label: string): string | undefined {
  return Object.hasOwn(labels, label) ? labels[label] : undefined;
}

/** Compiles the keys; the extractor returns null when the event lacks one of the labels (it then does not match). */
export function compileForEach(keys: readonly string[] | undefined): ForEachExtractor {
  if (!keys || keys.length === 0) return () => noKey;
  const getters = keys.map((key): ((event: VigilEvent) => string | undefined) => {
    if (key.startsWith('resource.')) {
      const label = key.slice('resource.'.length);
      return (event) => labelOf(event.resource, label);
    }
    const rest = key.slice('related.'.length);
    const dot = rest.indexOf('.');
    const role = rest.slice(0, dot);
    const label = rest.slice(dot + 1);
    return (event) => {
      const related = event.related.find((r) => r.role === role);
      return related ? labelOf(related, label) : undefined;
    };
  });
  return (event) => {
    const values: Record<string, string> = {};
    const list: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const value = getters[i]!(event);
      if (value === undefined) return null;
      values[keys[i]!] = value;
      list.push(value);
    }
    return { key: JSON.stringify(list), values };
  };
}
