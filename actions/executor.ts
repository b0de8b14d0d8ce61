import type { Logger } from '../platform/logger.ts';
import type { Database } from '../platform/ports/database.ts';
import type { Action, ActionKind, ActionOf } from '../schemas/action.ts';
import type { VigilEvent } from '../schemas/event.ts';
import type { ConnectionsRepository } from './connections.ts';
import type { HttpClient } from './http.ts';
import type { OutboxJob } from './outbox-job.ts';
import type { ChannelPacer } from './pacing.ts';
import type { TemplateScope } from './templates.ts';
import type { TokenCache } from './orchestrators/token-cache.ts';

/** Appends events to the event log (the process wiring passes EventLog.append). */
export type EmitEvents = (events: readonly VigilEvent[]) => Promise<void>;

/** Everything an action kind's executor gets for one attempt. */
/**
 * Pausing and resuming automations, for the pause-automation and resume-automation actions:
 * the automations' one owner (triggers/automation-repository.ts), handed in by the composition
 * root, so that an action pauses exactly as the API does. Null when there is no such automation.
 */
export interface AutomationSwitch {
  setEnabled(name: string, enabled: boolean): Promise<{ readonly enabled: boolean } | null>;
}

export interface ExecutionContext<A extends Action = Action> {
  readonly action: A;
  readonly job: OutboxJob;
  /** The action run's id (= outbox id = queue job id); also the idempotency key of outgoing calls. */
  readonly runId: string;
  readonly attempt: number;
  readonly scope: TemplateScope;
  /** Timeout of one outgoing call, from the action's `timeout`. */
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  readonly http: HttpClient;
  readonly connections: ConnectionsRepository;
  readonly db: Database;
  readonly automations: AutomationSwitch;
  readonly emit: EmitEvents;
  readonly pacer: ChannelPacer;
  readonly tokens: TokenCache;
  readonly logger: Logger;
}

/** What a successful attempt reports; kept on the action run. */
export interface ExecutionResult {
  readonly responseStatus?: number;
  readonly responseBody?: string;
  /** Kind-specific facts for later actions (Slack message ts, Prefect flow run id, …). */
  readonly result?: Record<string, unknown>;
}

export type Executor<K extends ActionKind> = (context: ExecutionContext<ActionOf<K>>) => Promise<ExecutionResult>;
