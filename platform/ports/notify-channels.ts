/**
 * The PostgreSQL NOTIFY channels Vigil's processes signal each other on (Database.listen), in
 * one place: a channel written in one module and listened to in another must be the same name.
 */
export const notifyChannels = {
  /** An automation was created, changed or deleted; payload: its name (the table trigger of migration 0002). */
  automations: 'vigil_automations',
  /** A trigger state's deadline moved earlier; payload: the earliest due time (ms since epoch). */
  triggerDue: 'vigil_trigger_due',
  /** Action outbox rows were committed; payload: the writing process's id (platform/process-id.ts). */
  actionOutbox: 'vigil_outbox',
  /** Lifecycle-event outbox rows were committed; no payload. */
  eventOutbox: 'vigil_event_outbox',
} as const;
