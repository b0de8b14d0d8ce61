import { InvalidArgumentError } from 'commander';

/** Repeatable `key=value` options into a record (`--label env=prod --label team=data`). */
export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 date-time with a time zone, e.g. 2026-11-22T08:59:00Z. */
export function isoTime(value: string): string {
  if (!isoPattern.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidArgumentError(`expected an ISO 8601 date-time with a time zone, e.g. 2026-11-22T08:59:00Z; got "${value}"`);
  }
  return value;
}

/** A whole number ≥ 1. */
export function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${value}"`);
  return number;
}

/** One of the listed choices. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}; got "${value}"`);
    return value as T;
  };
}

/** A comma-separated list of the listed choices, e.g. `--role ingest,api`; `noun` names one in the error. */
export function commaListOf<T extends string>(choices: readonly T[], noun: string): (value: string) => T[] {
  return (value) => {
    const list = value.split(',').map((item) => item.trim());
    for (const item of list) {
      if (!(choices as readonly string[]).includes(item)) throw new InvalidArgumentError(`unknown ${noun} "${item}"; use ${choices.join(', ')}`);
    }
    return list as T[];
  };
}
