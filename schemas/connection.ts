import { z } from 'zod';

/*
 * Connections hold the credentials actions use, referenced by name. Each kind lists its secret
 * fields: they are encrypted at rest (AES-256-GCM) and never returned; the other fields are
 * returned as they are.
 */

export const connectionNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const httpUrl = z
  .string()
  .refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), 'must be an http(s) URL');

const secret = z.string().min(1).max(4_096);

const slackConnection = z
  .object({
    kind: z.literal('slack'),
    /** Incoming webhook URL (secret: it authorizes posting). */
    webhook_url: httpUrl.optional(),
    /** Bot token (xoxb-…) for chat.postMessage. */
    bot_token: secret.optional(),
    /** Slack Web API base (default https://slack.com/api); tests point it at a stand-in. */
    api_url: httpUrl.default('https://slack.com/api'),
    /** Least time between two messages to one channel, ms (Slack allows about one per second). */
    pacing_ms: z.int().min(0).max(60_000).default(1_000),
  })
  .strict()
  .refine((value) => (value.webhook_url === undefined) !== (value.bot_token === undefined), {
    message: 'needs exactly one of webhook_url or bot_token',
  });

const webhookConnection = z
  .object({
    kind: z.literal('webhook'),
    /** HMAC-SHA256 key for the signature header. */
    signing_secret: secret.optional(),
    /** Headers added to every request (e.g. Authorization); values are secret. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/), secret).default({}),
  })
  .strict();

const prefectConnection = z
  .object({
    kind: z.literal('prefect'),
    /** API base, e.g. http://prefect:4200/api or https://api.prefect.cloud/api/accounts/{a}/workspaces/{w}. */
    api_url: httpUrl,
    /** Prefect Cloud API key (sent as a bearer token). */
    api_key: secret.optional(),
    /** Self-hosted server auth string "user:password" (PREFECT_SERVER_API_AUTH_STRING, sent as basic auth). */
    auth_string: secret.optional(),
    /**
     * Marks the connection as an event source: Vigil's ingest role subscribes to the server's
     * event stream (/api/events/out) and appends Prefect's events to its log. `events` and
     * `resources` narrow it to event-name and resource-id prefixes (default: every event).
     */
    event_source: z
      .object({
        events: z.array(z.string().min(1).max(256)).max(50).optional(),
        resources: z.array(z.string().min(1).max(1024)).max(50).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const airflowConnection = z
  .object({
    kind: z.literal('airflow'),
    /** Webserver / API server base URL, e.g. http://airflow:8080 (without /api/v1). */
    base_url: httpUrl,
    /** Stable REST API version: 1 for Airflow 2 (/api/v1, basic auth), 2 for Airflow 3 (/api/v2, JWT from /auth/token). */
    api_version: z.union([z.literal(1), z.literal(2)]),
    username: z.string().min(1).max(256).optional(),
    password: secret.optional(),
    /** A ready-made bearer token instead of username and password. */
    token: secret.optional(),
  })
  .strict()
  .refine((value) => value.token !== undefined || (value.username !== undefined && value.password !== undefined), {
    message: 'needs username and password, or token',
  });

export const connectionConfig = z.discriminatedUnion('kind', [
  slackConnection,
  webhookConnection,
  prefectConnection,
  airflowConnection,
]);

export type ConnectionConfig = z.infer<typeof connectionConfig>;
export type ConnectionKind = ConnectionConfig['kind'];
export type ConnectionOf<K extends ConnectionKind> = Extract<ConnectionConfig, { kind: K }>;

/** Fields whose values are secret, per kind. */
export const secretFields: { readonly [K in ConnectionKind]: readonly string[] } = {
  slack: ['webhook_url', 'bot_token'],
  webhook: ['signing_secret', 'headers'],
  prefect: ['api_key', 'auth_string'],
  airflow: ['password', 'token'],
};

export const connectionName = z.string().regex(connectionNamePattern, 'must be 1-128 letters, digits, "_", "." or "-", starting with a letter or digit');

/** A connection as returned by the API: secrets replaced by "[redacted]". */
export interface RedactedConnection {
  readonly name: string;
  readonly kind: ConnectionKind;
  readonly config: Record<string, unknown>;
  readonly created_at: string;
  readonly updated_at: string;
}
