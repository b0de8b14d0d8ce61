import { v5 as uuidv5 } from 'uuid';

/** Namespace of the ids Vigil derives from other formats' identities (a fixed, random UUID). */
const vigilNamespace = 'b0d7a9c4-2f3e-4c1a-9d5b-7e6f8a1c2d3e';

/**
 * The Vigil event id of an event that arrived in another format: a UUID v5 of its identity in
 * that format, so the same source event always gets the same id and resends dedupe.
 */
export function deterministicEventId(format: string, ...identity: readonly string[]): string {
  return uuidv5([format, ...identity].join('\n'), vigilNamespace);
}
