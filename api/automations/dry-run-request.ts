import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { normalizeEvents } from '../../ingest/event-normalizer.ts';
import type { Database } from '../../platform/ports/database.ts';
import { validateAutomation, type Automation } from '../../schemas/automation.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { candidateEventNames, DryRunLimitError, historyReplayStart, replayOrder, startDryRun, type DryRun, type DryRunResult } from '../../triggers/dry-run.ts';
import type { AutomationRepository } from '../../triggers/index.ts';
import { HttpError } from '../../platform/http/http-error.ts';
import { maxReplayedEvents, type TestBody } from './automation-schemas.ts';
import { countHistory, readHistory } from '../../history/event-history.ts';
import { invalidAutomation, unprocessable } from './http-input.ts';

/*
 * POST /api/automations/{name}/test: a dry run (triggers/dry-run.ts) of the stored automation,
 * or of an unsaved definition, against an event list or the stored history of a time range.
 * Nothing is written. The work is bounded: at most 10,000 listed or 100,000 stored events, at
 * most 100,000 timer steps, and a time budget; the run yields to the event loop between chunks
 * so that other requests are served meanwhile.
 */

export interface DryRunLimits {
  /** Wall-clock time one dry run may take (default 20 s). */
  readonly budgetMs: number;
  readonly maxReplayedEvents: number;
}

export const defaultDryRunLimits: DryRunLimits = { budgetMs: 20_000, maxReplayedEvents };

const chunkSize = 1_000;

function notFound(name: string): HttpError {
  return new HttpError(404, 'not_found', `no automation ${JSON.stringify(name.slice(0, 200))}; to test an unsaved definition, send it as "automation" in the body`);
}

/** The definition to test: the body's `automation` (validated; `name` defaults to the path's), or the stored one. */
export async function automationToTest(name: string, body: Pick<TestBody, 'automation'>, repository: AutomationRepository): Promise<Automation> {
  if (body.automation === undefined) {
    const stored = await repository.get(name);
    if (!stored) throw notFound(name);
    return stored.automation;
  }
  const document = body.automation;
  if (document['name'] !== undefined && document['name'] !== name) {
    throw unprocessable('invalid_automation', 'the automation is invalid', [{ path: 'automation.name', message: `must equal the name in the path (${JSON.stringify(name)}) or be left out` }]);
  }
  const result = validateAutomation({ ...document, name });
  if (!result.ok) throw invalidAutomation(result.errors, 'automation');
  return result.automation;
}

function tooLarge(path: string, message: string): HttpError {
  return unprocessable('dry_run_too_large', 'the dry run is too large', [{ path, message }]);
}

/** Feeds events in chunks, yielding between them, within the time budget. */
async function feed(run: DryRun, events: readonly VigilEvent[], deadline: number, path: string): Promise<void> {
  for (let i = 0; i < events.length; i += chunkSize) {
    if (i > 0) await yieldToEventLoop();
    if (Date.now() > deadline) throw tooLarge(path, 'the dry run took longer than its time budget; test fewer events or a shorter range');
    for (const event of events.slice(i, i + chunkSize)) run.add(event);
  }
}

export async function runDryRunRequest(
  name: string,
  body: TestBody,
  deps: { db: Database; repository: AutomationRepository; limits?: DryRunLimits },
): Promise<DryRunResult> {
  const limits = deps.limits ?? defaultDryRunLimits;
  const automation = await automationToTest(name, body, deps.repository);
  const started = Date.now();
  const deadline = started + limits.budgetMs;
  const path = body.events !== undefined ? 'events' : 'until';
  try {
    if (body.events !== undefined) {
      const normalized = normalizeEvents(body.events, new Date(started));
      if (!normalized.ok) {
        const problems = normalized.problems.map((p) => ({ index: p.index, path: `events[${p.index}]${p.path ? (p.path.startsWith('[') ? p.path : `.${p.path}`) : ''}`, message: p.message }));
        throw unprocessable('invalid_events', `${new Set(problems.map((p) => p.index)).size} of ${body.events.length} events are invalid`, problems);
      }
      const ordered = replayOrder(normalized.events);
      const run = startDryRun(automation, { start: ordered.start ?? started });
      await feed(run, ordered.events, deadline, path);
      return run.finish(run.defaultEnd());
    }
    const since = body.since!;
    const until = body.until!;
    // The replay warms up from a window's length before `since`; firings before `since` are not reported.
    const start = historyReplayStart(automation, since.getTime());
    const range = { since: new Date(start), until, names: candidateEventNames(automation) };
    const count = await countHistory(deps.db, range, limits.maxReplayedEvents);
    if (count > limits.maxReplayedEvents) {
      throw tooLarge(
        'until',
        `the range${start < since.getTime() ? ` (with its warm-up from ${new Date(start).toISOString()}, one trigger window before since)` : ''} holds more than ${limits.maxReplayedEvents} stored events${range.names ? ` named like ${range.names.slice(0, 5).join(', ')}` : ''}; a dry run replays at most ${limits.maxReplayedEvents}: test a shorter range`,
      );
    }
    const run = startDryRun(automation, { start, reportFrom: since.getTime() });
    for await (const page of readHistory(deps.db, range)) await feed(run, page, deadline, path);
    // The clock runs to `until`, but not past the present: what has not happened yet is no miss.
    return run.finish(Math.min(until.getTime(), Date.now()));
  } catch (error) {
    if (error instanceof DryRunLimitError) throw tooLarge(path, error.message);
    throw error;
  }
}
