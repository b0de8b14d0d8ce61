import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { createApiKeys } from '../../../api/api-keys.ts';
import { startIngestHarness, type IngestHarness } from '../../support/ingest-harness.ts';

/*
 * The automations control plane over the real HTTP app, PostgreSQL and Kafka, shared by the
 * files of this folder (one per concern: routes, scopes, bad input, dry runs, firings, OpenAPI).
 */


export interface Problem {
  error: string;
  message: string;
  errors?: Array<{ path: string; message: string; index?: number }>;
}

export interface Stored {
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: Record<string, unknown>;
  actions: unknown[];
  actions_on_resolve: unknown[];
  version: number;
  created_at: string;
  updated_at: string;
}

export interface TestFiring {
  state: 'triggered' | 'resolved';
  at: string;
  triggered_at: string;
  resolved_at?: string;
  resolved_by?: string;
  deadline?: string;
  for_each: Record<string, string>;
  window: { start: string; end: string };
  count: number;
  event_ids: string[];
}

export interface TestResult {
  fired: number;
  resolved: number;
  firings: TestFiring[];
  explanations: Array<{ event_id: string; matched: boolean; clauses: Array<{ clause: string; matched: boolean; detail: string }> }>;
  events: number;
  matched: number;
  duplicates: number;
  clock: { start: string; end: string };
  explanations_not_listed?: number;
}

export interface FiringsPage {
  firings: Array<{ id: string; status: string; triggered_at: string; resolved_at: string | null; for_each: Record<string, string>; count: number; deadline: string | null; event_ids: string[]; window: { start: string; end: string } }>;
  next?: string;
}

export interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}

export let harness: IngestHarness;
export let readKey: string;
export let writeKey: string;

export async function call<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null; contentType?: string; raw?: string | Buffer } = {},
): Promise<Reply<T>> {
  const key = options.key === undefined ? harness.adminKey : options.key;
  const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(`${harness.url}${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(payload !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
    },
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text === '' ? null : JSON.parse(text)) as T, headers: response.headers };
}

/** Asserts a 4xx problem: its status, code, and that one of its errors has `path`. */
export function assertProblem(reply: Reply<unknown>, status: number, code: string, path?: string): void {
  const problem = reply.body as Problem;
  assert.equal(reply.status, status, JSON.stringify(problem));
  assert.equal(problem.error, code, JSON.stringify(problem));
  assert.equal(typeof problem.message, 'string');
  if (path !== undefined) {
    assert.ok(problem.errors?.some((error) => error.path === path), `expected an error at path ${JSON.stringify(path)}, got ${JSON.stringify(problem.errors)}`);
  }
}

export const failures = { type: 'event', expect: ['job.failed'], threshold: 3, within: '1h' };
export const salesSla = { type: 'deadline', expect: ['sales.refreshed'], match: { id: 'dbt.model.sales' }, by: '0 9 * * *', timezone: 'Europe/Berlin' };
export const notify = (text: string) => ({ kind: 'send-notification', connection: 'slack-oncall', text });

/** Rows a dry run must never write, for the given automation names. */
export async function writtenRows(names: readonly string[]): Promise<number> {
  const [row] = await harness.database.db.query<{ n: bigint }>(
    `SELECT (SELECT count(*) FROM trigger_state WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM firings WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM action_outbox WHERE automation_name = ANY($1))
          + (SELECT count(*) FROM event_outbox WHERE event->'payload'->>'automation' = ANY($1)) AS n`,
    [names],
  );
  return Number(row!.n);
}

/**
 * The automations most tests read: `job-failures` (three failures in an hour, notifying) and
 * `paused-sla` (a paused daily deadline), as crud.test.ts creates them.
 */
export async function saveCommonAutomations(): Promise<void> {
  const common = {
    'job-failures': { description: 'three failures in an hour', tags: ['team-data'], trigger: failures, actions: [notify('{{ automation.name }} fired')] },
    'paused-sla': { trigger: salesSla, enabled: false, tags: ['sla'] },
  };
  for (const [name, document] of Object.entries(common)) assert.equal((await call('PUT', `/api/automations/${name}`, document)).status, 201);
}

/**
 * Starts the API over a real PostgreSQL and Kafka before the file's tests and stops it after
 * (call at the top of a test file); `withCommonAutomations` saves saveCommonAutomations' two.
 */
export function useAutomationsApi(options: { withCommonAutomations?: boolean } = {}): void {
  before(async () => {
    harness = await startIngestHarness();
    if (options.withCommonAutomations) await saveCommonAutomations();
    const keys = createApiKeys(harness.database.db);
    readKey = (await keys.create('reader', ['read'])).secret;
    writeKey = (await keys.create('emitter', ['events:write'])).secret;
  });
  after(async () => {
    await harness.close();
  });
}
