const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a syntactically valid UUID (any version): firing, outbox and action run ids, Prefect ids. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
