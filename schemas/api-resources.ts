/**
 * Shapes of resources the control-plane API returns, shared by the server (which builds them)
 * and the SDK (which receives them), so that the two cannot drift apart.
 */

export type ActionRunStatus = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed';
export const actionRunStatuses: readonly ActionRunStatus[] = ['queued', 'running', 'retrying', 'succeeded', 'failed'];

/** One run of one action of one firing; `failed` runs are the dead-letter list. */
export interface ActionRun {
  readonly id: string;
  readonly firing_id: string;
  readonly automation_name: string;
  readonly phase: 'triggered' | 'resolved';
  readonly action_index: number;
  readonly kind: string;
  readonly status: ActionRunStatus;
  readonly attempts: number;
  readonly created_at: string;
  readonly first_started_at: string | null;
  readonly last_started_at: string | null;
  readonly finished_at: string | null;
  readonly next_attempt_at: string | null;
  readonly duration_ms: number | null;
  readonly response_status: number | null;
  readonly response_body: string | null;
  readonly error: string | null;
  readonly result: unknown;
}

/** A firing of an automation, as stored (`GET /api/firings`, `GET /api/automations/{name}/firings`). */
export interface Firing {
  readonly id: string;
  readonly automation_name: string;
  /** `triggered` (not resolved) or `resolved`. */
  readonly status: 'triggered' | 'resolved';
  readonly triggered_at: string;
  readonly resolved_at: string | null;
  readonly for_each: Readonly<Record<string, string>>;
  readonly window: { readonly start: string; readonly end: string };
  readonly count: number;
  readonly deadline: string | null;
  readonly event_ids: readonly string[];
}

/** One call a connection test made: what, whether it passed, and what it found. */
export interface ConnectionCheck {
  /** The call, e.g. `GET /api/health`, `POST /auth/token`, `auth.test`. */
  readonly check: string;
  readonly ok: boolean;
  /** What the answer showed, or why the call failed. */
  readonly detail: string;
  /** HTTP status of the answer; absent when none arrived. */
  readonly http_status?: number;
  readonly duration_ms: number;
}

/** The answer of POST /api/connections/{name}/test. */
export interface ConnectionTestResult {
  readonly connection: string;
  readonly kind: 'slack' | 'webhook' | 'prefect' | 'airflow';
  /** `ok`: every check passed; `failed`: one did (see `message`); `not_testable`: no harmless call exists for it (see `message`). */
  readonly status: 'ok' | 'failed' | 'not_testable';
  readonly message: string;
  readonly checks: readonly ConnectionCheck[];
}

/** A problem that does not stop a write, answered beside its result (`warnings` of PUT /api/automations/{name}). */
export interface ApiWarning {
  /** Where in the request, e.g. `actions[0].connection`. */
  readonly path: string;
  readonly message: string;
}

/** The state of one window key of an automation (`GET /api/trigger-status`). */
export type KeyStatus = 'firing' | 'waiting' | 'resolved' | 'ok' | 'paused';

export interface KeyState {
  readonly key: string;
  readonly for_each: Readonly<Record<string, string>>;
  readonly status: KeyStatus;
  /** firing: when it fired; resolved: when it resolved. */
  readonly since: string | null;
  /** waiting: when the open window falls due. */
  readonly due_at: string | null;
  /** Expected or counted events in the open window, and how many it needs. */
  readonly count: number | null;
  readonly threshold: number | null;
  /** The latest event the window state holds (expected or counted). */
  readonly last_event_at: string | null;
  readonly firing_id: string | null;
  /** Deadline and proactive triggers: the last 30 windows, oldest first (m met, M missed, L late-recovered, - before the automation existed). */
  readonly history: string | null;
}

/** An automation with the state of each of its window keys (`GET /api/trigger-status`). */
export interface AutomationStatus {
  readonly name: string;
  readonly description: string | null;
  readonly enabled: boolean;
  readonly tags: readonly string[];
  /** deadline, event/reactive, event/proactive, compound or sequence. */
  readonly trigger_type: string;
  readonly keys: readonly KeyState[];
}
