/**
 * Explicit limits on what Vigil accepts. Documented in docs/reference/events.md; every one is
 * enforced with a 413 or 422 that names the limit. Nothing over a limit is dropped silently.
 */
export const eventLimits = {
  /** Serialized size of one event (JSON, UTF-8), after defaults are filled in. */
  maxEventBytes: 256 * 1024,
  /** Body size of one HTTP request. */
  maxRequestBytes: 10 * 1024 * 1024,
  /** Events in one request (array, NDJSON or CloudEvents batch). */
  maxEventsPerRequest: 10_000,
  /** Length of an event name such as `airflow.dag_run.success`. */
  maxNameLength: 256,
  /** Length of an event id. */
  maxIdLength: 128,
  /** Labels on one resource (including `id`). */
  maxLabels: 50,
  /** Length of a label key. */
  maxLabelKeyLength: 128,
  /** Length of a label value (resource ids included). */
  maxLabelValueLength: 1024,
  /** Related resources on one event. */
  maxRelated: 50,
  /** Nesting depth of the payload (objects and arrays). */
  maxPayloadDepth: 32,
} as const;
