/** A thrown value as an Error (a string or anything else thrown becomes one's message). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
