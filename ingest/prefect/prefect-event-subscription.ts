import { HttpError } from '../../platform/http/http-error.ts';
import type { Logger } from '../../platform/logger.ts';
import type { EventIntake } from '../event-intake.ts';
import { vigilEventOf } from './prefect-event-mapping.ts';
import type { PrefectSourceMetrics } from './prefect-source-metrics.ts';
import type { SourcePositions } from './source-positions.ts';

/*
 * One Prefect connection's events into Vigil's log, the way `prefect events stream` reads them:
 *
 *   ws(s)://{api_url}/events/out, subprotocol "prefect"
 *   → {"type": "auth", "token": <API key, auth string or null>}      ← {"type": "auth_success"}
 *   → {"type": "filter", "filter": EventFilter}   (occurred.since = where we resume; order ASC)
 *   ← {"type": "event", "event": Event}  …  first the backfill since `since`, then live events
 *
 * The server backfills at most 15 minutes (PREFECT_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL); a source
 * further behind first pages through POST {api_url}/events/filter (order ASC) up to now.
 *
 * The server subscribes a socket to its live stream first and then backfills from its database,
 * which its event persister writes a few seconds after the live stream: an event sent live just
 * before the subscription and stored just after the backfill query is in neither. So once the
 * persister has caught up (`seamCheckMs` after login), the source pages through /events/filter
 * for what occurred between `resumeFrom` and the login, and appends what it has not seen.
 *
 * Resuming without gaps or doubles: `resumeFrom` trails the newest appended event's occurred time
 * by `overlapMs` (events reach Prefect a little after they occur), and the ids appended that
 * occurred at or after it are kept: a reconnect asks for events since `resumeFrom` and skips the
 * ids it has. Both are stored (source-positions.ts) after each append, so a restart resumes the
 * same way. Events are appended through the intake (validation, limits, metrics) with Prefect's
 * ids; a crash between an append and the stored position resends a few events under the same ids,
 * which the log's consumers count once. One process at a time holds a connection (a lease).
 */

export interface PrefectSourceConfig {
  /** The connection's name. */
  readonly name: string;
  /** API base, e.g. http://prefect:4200/api. */
  readonly apiUrl: string;
  readonly apiKey?: string | undefined;
  readonly authString?: string | undefined;
  /** Event-name prefixes to take (default: all). */
  readonly events?: readonly string[] | undefined;
  /** Resource-id prefixes to take (default: all). */
  readonly resources?: readonly string[] | undefined;
}

export type SourceState = 'starting' | 'standby' | 'catching_up' | 'connecting' | 'streaming' | 'reconnecting' | 'stopped';

export interface SourceStatus {
  readonly connection: string;
  readonly state: SourceState;
  /** Events appended since this process started the source. */
  readonly events_appended: number;
  /** Prefect messages that were not events Vigil can take (logged with the reason). */
  readonly events_skipped: number;
  /** Occurred time of the newest event appended. */
  readonly last_event_occurred?: string;
  /** Seconds from the newest appended event's occurred time to its append. */
  readonly lag_seconds?: number;
  /** Where a reconnect resumes. */
  readonly resume_from?: string;
  readonly last_error?: string;
}

export interface PrefectSubscription {
  readonly config: PrefectSourceConfig;
  status(): SourceStatus;
  close(): Promise<void>;
}

export interface SubscriptionOptions {
  readonly config: PrefectSourceConfig;
  readonly intake: EventIntake;
  readonly positions: SourcePositions;
  /** This process's id (the lease owner). */
  readonly owner: string;
  readonly logger: Logger;
  readonly metrics: PrefectSourceMetrics;
  readonly leaseMs?: number;
  readonly overlapMs?: number;
  /** After login, when to look for events the socket's backfill missed (default 10 s; Prefect's persister flushes every 5 s). */
  readonly seamCheckMs?: number;
  /** Most events appended at once. */
  readonly batchSize?: number;
  /** How long an event may wait for others to share its append. */
  readonly batchDelayMs?: number;
  readonly now?: () => number;
}

/** Further behind than this, the websocket's own backfill (15 min) may not reach: page through /events/filter first. */
const catchUpAfterMs = 10 * 60_000;
const maxReconnectDelayMs = 30_000;
const maxPending = 10_000;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function startPrefectSubscription(options: SubscriptionOptions): PrefectSubscription {
  const { config, intake, positions, owner, logger, metrics } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const overlapMs = options.overlapMs ?? 60_000;
  const batchSize = options.batchSize ?? 500;
  const batchDelayMs = options.batchDelayMs ?? 20;
  const seamCheckMs = options.seamCheckMs ?? 10_000;
  const now = options.now ?? Date.now;
  const log = logger.child({ component: 'prefect-source', connection: config.name });
  const base = config.apiUrl.replace(/\/+$/, '');
  const socketUrl = `${base.replace(/^http/, 'ws')}/events/out`;
  const token = config.apiKey ?? config.authString ?? null;
  const restHeaders: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  if (config.apiKey) restHeaders.authorization = `Bearer ${config.apiKey}`;
  else if (config.authString) restHeaders.authorization = `Basic ${Buffer.from(config.authString).toString('base64')}`;

  let state: SourceState = 'starting';
  let closed = false;
  let appended = 0;
  let skipped = 0;
  let lastOccurred: Date | undefined;
  let lagSeconds: number | undefined;
  let lastError: string | undefined;
  /** Every event that occurred before this was appended. */
  let resumeFrom = new Date(now() - overlapMs);
  /** Ids appended that occurred at or after resumeFrom, with their occurred time (ms). */
  const seen = new Map<string, number>();
  /** While a seam check is due, no seen id is forgotten (the check may find them again). */
  let keepSeen = false;
  let socket: WebSocket | undefined;
  let wake: (() => void) | undefined;

  const setState = (next: SourceState) => {
    state = next;
    metrics.streaming.set({ connection: config.name }, next === 'streaming' ? 1 : 0);
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Appends the mapped events not seen yet, then stores the new position; false when the lease was lost. */
  async function append(messages: readonly unknown[]): Promise<boolean> {
    const fresh: Array<{ id: string; occurred: Date; event: unknown }> = [];
    for (const message of messages) {
      const mapped = vigilEventOf(message);
      if (!mapped.ok) {
        skipped += 1;
        metrics.skipped.inc({ connection: config.name });
        log.warn({ event_id: mapped.id, reason: mapped.reason }, 'skipped a Prefect event Vigil cannot take');
        continue;
      }
      if (seen.has(mapped.id) || fresh.some((item) => item.id === mapped.id)) continue;
      fresh.push({ id: mapped.id, occurred: mapped.occurred, event: mapped.event });
    }
    if (fresh.length > 0) {
      await ingest(fresh);
      const appendedAt = now();
      for (const item of fresh) {
        seen.set(item.id, item.occurred.getTime());
        if (!lastOccurred || item.occurred > lastOccurred) lastOccurred = item.occurred;
      }
      appended += fresh.length;
      metrics.appended.inc({ connection: config.name }, fresh.length);
      lagSeconds = Math.max(0, (appendedAt - Math.max(...fresh.map((item) => item.occurred.getTime()))) / 1000);
      metrics.lag.set({ connection: config.name }, lagSeconds);
      const trailing = Math.max(...fresh.map((item) => item.occurred.getTime()), lastOccurred?.getTime() ?? 0) - overlapMs;
      if (trailing > resumeFrom.getTime()) resumeFrom = new Date(trailing);
      if (!keepSeen) for (const [id, occurred] of seen) if (occurred < resumeFrom.getTime()) seen.delete(id);
    }
    return save();
  }

  /** Through the intake; an event the intake refuses (size limits) is skipped and counted, the rest still go. */
  async function ingest(items: ReadonlyArray<{ id: string; event: unknown }>): Promise<void> {
    try {
      await intake.ingest({ format: 'prefect', items: items.map((item) => item.event) });
    } catch (error) {
      if (!(error instanceof HttpError) || error.status === 503 || items.length === 1) {
        if (error instanceof HttpError && error.status !== 503) {
          skipped += 1;
          metrics.skipped.inc({ connection: config.name });
          log.warn({ event_id: items[0]!.id, reason: error.message }, 'skipped a Prefect event Vigil cannot take');
          return;
        }
        throw error;
      }
      for (const item of items) await ingest([item]);
    }
  }

  async function save(): Promise<boolean> {
    const held = await positions.save(config.name, owner, { resumeFrom, seenIds: [...seen.keys()] }, leaseMs);
    if (!held) log.warn('another Vigil process took over this Prefect event source');
    return held;
  }

  /** Pages through /events/filter (order ASC) and appends what was not seen; false when the lease was lost. */
  async function pageThrough(since: Date, until: Date): Promise<boolean> {
    let response = await fetch(`${base}/events/filter`, {
      method: 'POST',
      headers: restHeaders,
      body: JSON.stringify({ filter: filterFor(since, until), limit: 200 }),
      signal: AbortSignal.timeout(30_000),
    });
    for (;;) {
      if (!response.ok) throw new Error(`Prefect POST /events/filter answered HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
      const page = (await response.json()) as { events?: unknown; next_page?: unknown };
      if (!Array.isArray(page.events)) throw new Error('Prefect /events/filter answered without events: is api_url the API base?');
      if (!(await append(page.events))) return false;
      if (typeof page.next_page !== 'string' || page.events.length === 0 || closed) return true;
      response = await fetch(page.next_page, { headers: restHeaders, signal: AbortSignal.timeout(30_000) });
    }
  }

  function filterFor(since: Date, until: Date): Record<string, unknown> {
    return {
      occurred: { since: since.toISOString(), until: until.toISOString() },
      ...(config.events?.length ? { event: { prefix: config.events } } : {}),
      ...(config.resources?.length ? { resource: { id_prefix: config.resources } } : {}),
      order: 'ASC',
    };
  }

  /** One websocket session; resolves when it ends (closed by either side), rejects on a protocol or auth failure. */
  function stream(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      setState('connecting');
      const ws = new WebSocket(socketUrl, ['prefect']);
      socket = ws;
      let authenticated = false;
      let pending: unknown[] = [];
      let flushing: Promise<void> = Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      let failure: Error | undefined;
      let seamTimer: NodeJS.Timeout | undefined;
      const renew = setInterval(() => {
        if (pending.length === 0) flushing = flushing.then(() => flush());
      }, Math.max(1_000, Math.floor(leaseMs / 3)));

      const fail = (error: Error) => {
        failure ??= error;
        ws.close();
      };
      async function flush(): Promise<void> {
        timer = undefined;
        const batch = pending;
        pending = [];
        try {
          if (!(await append(batch))) fail(new Error('lease lost'));
        } catch (error) {
          // Nothing was stored past what was appended: reconnecting resumes from the stored position.
          fail(error instanceof Error ? error : new Error(String(error)));
        }
      }

      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
      ws.addEventListener('message', (message: MessageEvent) => {
        let data: { type?: unknown; event?: unknown; reason?: unknown };
        try {
          data = JSON.parse(String(message.data)) as typeof data;
        } catch {
          return fail(new Error('Prefect sent a message that is not JSON'));
        }
        if (!authenticated) {
          if (data.type !== 'auth_success') return fail(new Error(`Prefect refused the event stream login${typeof data.reason === 'string' ? `: ${data.reason}` : ''}`));
          authenticated = true;
          const since = resumeFrom;
          const loggedInAt = new Date(now());
          ws.send(JSON.stringify({ type: 'filter', filter: filterFor(since, new Date(now() + 365 * 86_400_000)) }));
          setState('streaming');
          lastError = undefined;
          keepSeen = true;
          seamTimer = setTimeout(() => {
            flushing = flushing
              .then(async () => {
                if (!(await pageThrough(since, loggedInAt))) fail(new Error('lease lost'));
              })
              .catch((error: unknown) => fail(error instanceof Error ? error : new Error(String(error))))
              .finally(() => {
                keepSeen = false;
              });
          }, seamCheckMs);
          return;
        }
        if (data.type !== 'event') return;
        pending.push(data.event);
        if (pending.length >= maxPending) return fail(new Error(`more than ${maxPending} Prefect events wait for the event log`));
        if (pending.length >= batchSize) {
          clearTimeout(timer);
          flushing = flushing.then(() => flush());
        } else {
          timer ??= setTimeout(() => {
            flushing = flushing.then(() => flush());
          }, batchDelayMs);
        }
      });
      ws.addEventListener('error', () => {
        failure ??= new Error(authenticated ? 'the event stream broke' : `cannot open ${socketUrl}`);
      });
      ws.addEventListener('close', (event: CloseEvent) => {
        clearInterval(renew);
        clearTimeout(timer);
        clearTimeout(seamTimer);
        keepSeen = false;
        socket = undefined;
        // What arrived before the close is still appended before the next session starts.
        void flushing
          .then(() => (pending.length > 0 ? flush() : undefined))
          .then(() => {
            if (!authenticated && !closed) {
              reject(failure ?? new Error(`Prefect closed the event stream before login (${event.code}${event.reason ? `: ${event.reason}` : ''})`));
            } else if (failure && !closed) {
              reject(failure);
            } else {
              resolve();
            }
          });
      });
    });
  }

  const running = (async () => {
    let delayMs = 1_000;
    while (!closed) {
      try {
        const position = await positions.acquire(config.name, owner, leaseMs);
        if (!position) {
          setState('standby');
          await sleep(Math.floor(leaseMs / 2));
          continue;
        }
        if (position.resumeFrom) {
          resumeFrom = position.resumeFrom;
          seen.clear();
          for (const id of position.seenIds) seen.set(id, resumeFrom.getTime());
        }
        if (now() - resumeFrom.getTime() > catchUpAfterMs) {
          // The socket backfills 15 minutes at most: page through the rest first.
          setState('catching_up');
          if (!(await pageThrough(resumeFrom, new Date(now())))) continue;
        }
        if (closed) break;
        await stream();
        delayMs = 1_000;
      } catch (error) {
        lastError = errorText(error);
        log.warn({ err: lastError, retry_in_ms: delayMs }, 'Prefect event source disconnected; resuming');
      }
      if (closed) break;
      setState('reconnecting');
      metrics.reconnects.inc({ connection: config.name });
      await sleep(delayMs);
      delayMs = Math.min(maxReconnectDelayMs, delayMs * 2);
    }
  })();

  return {
    config,
    status: () => ({
      connection: config.name,
      state,
      events_appended: appended,
      events_skipped: skipped,
      ...(lastOccurred ? { last_event_occurred: lastOccurred.toISOString() } : {}),
      ...(lagSeconds === undefined ? {} : { lag_seconds: lagSeconds }),
      resume_from: resumeFrom.toISOString(),
      ...(lastError ? { last_error: lastError } : {}),
    }),
    async close() {
      closed = true;
      socket?.close();
      wake?.();
      await running;
      setState('stopped');
      await positions.release(config.name, owner).catch(() => undefined);
    },
  };
}
