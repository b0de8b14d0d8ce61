import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';

/**
 * Vigil's configuration, from environment variables (a `.env` file in the working directory
 * is read too; real environment variables win). An invalid value stops start-up with a message
 * naming the variable. Reference: docs/reference/configuration.md.
 */
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = z.coerce.number().int('must be a whole number').min(0).max(65_535, 'must be a port number (0–65535)');
const positiveInt = z.coerce.number().int('must be a whole number').positive('must be greater than 0');
const optionalUrl = (protocols: readonly string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine(
      (value) => value === undefined || (URL.canParse(value) && protocols.includes(new URL(value).protocol)),
      `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );

const environmentSchema = z.object({
  VIGIL_PORT: port.default(7700),
  VIGIL_HOST: z.string().min(1).default('127.0.0.1'),
  VIGIL_DATA_DIR: z.string().min(1).default('./.vigil'),
  VIGIL_ADMIN_KEY: z
    .string()
    .min(24, 'must be at least 24 characters (use `vigil keys generate`)')
    .optional(),
  VIGIL_SECRET_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_-]{43}=?$/, 'must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)')
    .optional(),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  KAFKA_BROKERS: z
    .string()
    .trim()
    .optional()
    .transform((value) => (value ? value.split(',').map((broker) => broker.trim()).filter(Boolean) : undefined))
    .refine(
      (brokers) => brokers === undefined || brokers.every((broker) => /^[^\s:]+:\d{1,5}$/.test(broker)),
      'must be a comma-separated list of host:port',
    ),
  VIGIL_KAFKA_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a valid Kafka topic name').default('vigil.events'),
  VIGIL_DATABASE_POOL_SIZE: positiveInt.max(500).default(32),
  VIGIL_DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  VIGIL_DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).default(5_000),
  VIGIL_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(0).default(15_000),
  VIGIL_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1–64 letters, digits, ".", "_" or "-"').default('vigil'),
  VIGIL_KAFKA_PARTITIONS: positiveInt.max(1024).default(6),
  VIGIL_KAFKA_LINGER_MS: z.coerce.number().int('must be a whole number').min(0).max(1_000).default(4),
  VIGIL_LOG_LEVEL: z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
  VIGIL_LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { message: 'must be auto, json or pretty' }).default('auto'),
  VIGIL_RATE_LIMIT_PER_MINUTE: positiveInt.default(6_000),
  VIGIL_APPEND_TIMEOUT_MS: positiveInt.default(10_000),
  VIGIL_EVENT_RETENTION_DAYS: positiveInt.max(3650).default(7),
  VIGIL_ALLOWED_LATENESS_MS: z.coerce.number().int('must be a whole number').min(0).default(300_000),
  VIGIL_ACTION_CONCURRENCY: positiveInt.max(1024).default(64),
  VIGIL_PREFECT_SOURCE_RELOAD_MS: positiveInt.max(3_600_000).default(30_000),
  VIGIL_EGRESS_ALLOWLIST: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(',').map((entry) => entry.trim()).filter(Boolean) : []))
    .refine((entries) => entries.every((entry) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(entry)), 'must be a comma-separated list of IP addresses or CIDR ranges'),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config extends Environment {
  /** `distributed` when DATABASE_URL, KAFKA_BROKERS and REDIS_URL are all set; `embedded` when none is. */
  readonly mode: 'embedded' | 'distributed';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const serviceVariables = ['DATABASE_URL', 'KAFKA_BROKERS', 'REDIS_URL'] as const;

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = readEnvironment()): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  const set = serviceVariables.filter((name) => config[name] !== undefined);
  if (set.length > 0 && set.length < serviceVariables.length) {
    const missing = serviceVariables.filter((name) => config[name] === undefined);
    throw new ConfigError(
      `Invalid configuration: distributed mode needs DATABASE_URL, KAFKA_BROKERS and REDIS_URL together; ` +
        `${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ` +
        `Unset all three to run embedded.`,
    );
  }
  return { ...config, mode: set.length === 0 ? 'embedded' : 'distributed' };
}

/** process.env, with `.env` from the working directory underneath it (real variables win). */
function readEnvironment(): NodeJS.ProcessEnv {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  return { ...fromFile, ...process.env };
}
