import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/*
 * Random bytes for event ids from a pool refilled 64 KiB at a time: one system call per 4,096
 * ids instead of one per id (the same technique as the intake's ingest/event-ids.ts). emit()
 * runs on the caller's path, so its cost matters.
 */
const pool = new Uint8Array(16 * 4096);
let offset = pool.length;

function pooledRandom16(): Uint8Array {
  if (offset + 16 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  return bytes;
}

/** A new event id: a UUID v7 (time-ordered to the millisecond). */
export function newEventId(): string {
  return uuidv7({ rng: pooledRandom16 });
}
