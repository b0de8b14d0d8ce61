import { z } from 'zod';

/**
 * The one duration grammar, for every duration a user writes (trigger windows, grace, `opens`,
 * action timeouts and retry delays; docs/reference/durations.md, decision 0400): one or more
 * parts, each a number and a unit, added up — `500ms`, `30s`, `1.5s`, `5m`, `2h`, `1d`, `1w`,
 * `1h30m`. Units: ms, s, m, h, d (24 h), w (7 d); numbers may have a fraction; spaces around
 * the whole are ignored, none inside. Durations are elapsed time (a day is 24 h, even across
 * DST) and resolve to whole milliseconds.
 */
const durationPattern = /^\s*(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+\s*$/;

const partPattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const unitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Milliseconds of a duration string (rounded to whole ms), or null when it is not one. */
export function parseDuration(text: string): number | null {
  if (!durationPattern.test(text)) return null;
  let total = 0;
  for (const part of text.matchAll(partPattern)) total += Number(part[1]) * unitMs[part[2]!]!;
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Like parseDuration, for strings already validated by the schema. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new Error(`not a duration: ${text}`);
  return ms;
}

/** A duration field of an automation (trigger or action). */
export const duration = z
  .string()
  .regex(durationPattern, 'must be a duration such as "30s", "5m", "2h", "1d" or "1h30m"')
  .refine((text) => !durationPattern.test(text) || parseDuration(text) !== null, 'is too long a duration')
  .describe('A duration: one or more parts, each a number and a unit (ms, s, m, h, d, w), e.g. "500ms", "1.5s", "30s", "5m", "2h", "1d", "1w"; parts add up: "1h30m".');
