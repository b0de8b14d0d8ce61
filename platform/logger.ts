import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths whose values never reach a log line: credentials in requests, connections and config. */
const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.secret',
  '*.password',
  '*.token',
  '*.api_key',
  'secret',
  'password',
  'token',
];

/** `json`: one JSON object per line; `pretty`: a time, a level and the message per line, for people; `auto`: pretty on a terminal. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Logs on stdout (pino): JSON lines for collectors, or readable lines (pino-pretty, in this
 * thread: no worker) when a person watches a terminal. Redaction applies to both.
 */
export function createLogger(level: string, name = 'vigil', format: LogFormat = 'json'): Logger {
  const options = { name, level, redact: { paths: redactedPaths, censor: '[redacted]' } };
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!readable) return pino(options);
  return pino(options, pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name' }));
}
