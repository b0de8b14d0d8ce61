import { pino, type Logger } from 'pino';

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

/** Structured JSON logs on stdout (pino), one line per record. */
export function createLogger(level: string, name = 'vigil'): Logger {
  return pino({ name, level, redact: { paths: redactedPaths, censor: '[redacted]' } });
}
