/** Durations in automations are strings such as `30s`, `5m`, `2h`, `1d` (or `1h30m`). */
export const durationPattern = /^(?:\d+(?:ms|s|m|h|d|w))+$/;

const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a duration string, or null when it is not one. Durations are elapsed time (a day is 24 h, even across DST). */
export function parseDuration(text: string): number | null {
  if (!durationPattern.test(text)) return null;
  let total = 0;
  for (const part of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) {
    total += Number(part[1]) * (unitMs[part[2]!] ?? 0);
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** Like parseDuration, for strings already validated by the schema. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new Error(`not a duration: ${text}`);
  return ms;
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
