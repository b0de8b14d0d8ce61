import { randomUUID } from 'node:crypto';

/**
 * A random id of this process, for messages a process sends to itself through a shared channel
 * (e.g. the `vigil_outbox` NOTIFY payload): a listener can tell its own from other processes'.
 */
export const processId: string = randomUUID();
