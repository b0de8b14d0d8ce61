import { VigilApiError } from '../sdk/errors.ts';

/** Exit codes of the client commands. */
export const exitCodes = {
  ok: 0,
  /** The input was invalid: a file, an event, an automation, an id or name the server does not know. */
  invalidInput: 1,
  /** The command line was wrong: unknown option, missing argument, no API key. */
  usage: 2,
  /** The server refused (auth, rate limit, 5xx) or could not be reached. */
  server: 3,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** A failure the CLI explains in one line on stderr and turns into an exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly exitCode: ExitCode;
  /** Further lines (e.g. one per validation problem), printed after the message. */
  readonly details: readonly string[];

  constructor(exitCode: ExitCode, message: string, details: readonly string[] = []) {
    super(message);
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** Statuses that mean "what you asked about is wrong", not "the server cannot serve you". */
const inputStatuses = new Set([400, 404, 409, 413, 415, 422]);

/** The exit code for a failed API call: 1 when the request's content was refused, 3 for auth, rate limits, 5xx and network errors. */
export function exitCodeOf(error: VigilApiError): ExitCode {
  // A 404 for the route itself means the server lacks the API (another version), not bad input.
  if (error.status === 404 && /^no route /.test(error.message)) return exitCodes.server;
  return inputStatuses.has(error.status) ? exitCodes.invalidInput : exitCodes.server;
}

/** One line: the server's message, its status and code. */
export function describeApiError(error: VigilApiError): string {
  if (error.status === 0) return error.message;
  const first = error.errors?.[0];
  const detail = first && !error.message.includes(first.message) ? ` (${first.path ? `${first.path}: ` : ''}${first.message})` : '';
  return `${error.message}${detail} [${error.status} ${error.code}]`;
}

/** Prints a failure on stderr (one line, plus detail lines for validation problems) and returns its exit code. */
export function reportFailure(error: unknown, stderr: NodeJS.WritableStream = process.stderr): ExitCode {
  if (error instanceof CliError) {
    stderr.write(`vigil: ${error.message}\n`);
    for (const line of error.details) stderr.write(`${line}\n`);
    return error.exitCode;
  }
  if (error instanceof VigilApiError) {
    stderr.write(`vigil: ${describeApiError(error).replace(/\s*\n\s*/g, ' ')}\n`);
    return exitCodeOf(error);
  }
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`vigil: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return exitCodes.server;
}
