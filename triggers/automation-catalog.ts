import type { Database } from '../platform/ports/database.ts';
import { validateAutomation } from '../schemas/automation.ts';
import type { VigilEvent } from '../schemas/event.ts';
import { buildMatchIndex, type MatchIndex } from './matching/match-index.ts';
import { beyondDepthLimit } from './matching/loop-protection.ts';
import { whereData, type WhereData } from './matching/where-clause.ts';
import { compileTriggerProgram, type Route, type TriggerProgram } from './trigger-program.ts';
import { notifyChannels } from '../platform/ports/notify-channels.ts';
import { rerunOnRequest } from '../platform/rerun-on-request.ts';

/**
 * The enabled automations, compiled: programs by name and the match index. A snapshot is
 * immutable; a reload builds a new one and swaps it in at once, so every batch of events is
 * evaluated against exactly one version of the catalog.
 */
export interface CatalogSnapshot {
  readonly programs: ReadonlyMap<string, TriggerProgram>;
  readonly index: MatchIndex;
  /** The automations the event matches, with its state key and roles in each. */
  route(event: VigilEvent): Array<{ program: TriggerProgram; route: Route }>;
}

export interface AutomationRow {
  readonly name: string;
  readonly definition: unknown;
  readonly version: bigint;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function buildCatalogSnapshot(programs: Iterable<TriggerProgram>): CatalogSnapshot {
  const byName = new Map<string, TriggerProgram>();
  for (const p of programs) byName.set(p.automation.name, p);
  const index = buildMatchIndex(byName.values());
  return {
    programs: byName,
    index,
    route(event) {
      if (beyondDepthLimit(event)) return [];
      let data: WhereData | null = null;
      const lazyData = (): WhereData => (data ??= whereData(event));
      const out: Array<{ program: TriggerProgram; route: Route }> = [];
      for (const program of index.candidates(event)) {
        const route = program.route(event, lazyData);
        if (route) out.push({ program, route });
      }
      return out;
    },
  };
}

/** Compiles stored rows; invalid definitions (stored by an older version, say) are skipped and logged. */
function compileRows(rows: readonly AutomationRow[], allowedLatenessMs: number, logger: Logger): TriggerProgram[] {
  const programs: TriggerProgram[] = [];
  for (const row of rows) {
    const result = validateAutomation(row.definition);
    if (!result.ok) {
      logger.error({ automation: row.name, errors: result.errors }, 'stored automation is invalid; skipped');
      continue;
    }
    programs.push(compileTriggerProgram(result.automation, row.version, { allowedLatenessMs }));
  }
  return programs;
}

export interface AutomationCatalog {
  current(): CatalogSnapshot;
  /** Reloads now (also done on NOTIFY vigil_automations and when a periodic check sees a change). */
  refresh(): Promise<void>;
  /** Called after every swap. */
  onChange(listener: (snapshot: CatalogSnapshot) => void): void;
  close(): Promise<void>;
}

export interface CatalogOptions {
  readonly db: Database;
  readonly allowedLatenessMs: number;
  readonly logger?: Logger;
  /** Safety net for missed notifications (a dropped LISTEN connection): compare a cheap fingerprint this often (default 2 s). */
  readonly checkIntervalMs?: number;
}

export async function startAutomationCatalog(options: CatalogOptions): Promise<AutomationCatalog> {
  const { db } = options;
  const logger = options.logger ?? silentLogger;
  const listeners: Array<(s: CatalogSnapshot) => void> = [];
  let snapshot = buildCatalogSnapshot([]);
  let fingerprint = '';
  let closed = false;

  const fingerprintNow = async (): Promise<string> => {
    const [row] = await db.query<{ f: string }>(`SELECT count(*)::text || '/' || COALESCE(max(updated_at)::text, '') || '/' || COALESCE(sum(version)::text, '') AS f FROM automations`);
    return row?.f ?? '';
  };

  const reload = async (): Promise<void> => {
    const print = await fingerprintNow();
    const rows = await db.query<AutomationRow>('SELECT name, definition, version FROM automations WHERE enabled');
    // Unchanged automations keep their compiled program; only new versions are compiled.
    const reused: TriggerProgram[] = [];
    const changed: AutomationRow[] = [];
    for (const row of rows) {
      const known = snapshot.programs.get(row.name);
      if (known && known.version === row.version) reused.push(known);
      else changed.push(row);
    }
    snapshot = buildCatalogSnapshot([...reused, ...compileRows(changed, options.allowedLatenessMs, logger)]);
    fingerprint = print;
    for (const l of listeners) l(snapshot);
  };

  const reloads = rerunOnRequest(reload, () => closed);
  const refresh = (): Promise<void> => reloads.request();

  await refresh();
  const unlisten = await db.listen(notifyChannels.automations, () => {
    refresh().catch((error: unknown) => logger.warn({ err: error }, 'automation reload failed'));
  });
  const timer = setInterval(() => {
    fingerprintNow()
      .then((print) => (print !== fingerprint ? refresh() : undefined))
      .catch(() => undefined);
  }, options.checkIntervalMs ?? 2_000);
  timer.unref();

  return {
    current: () => snapshot,
    refresh,
    onChange: (listener) => listeners.push(listener),
    async close() {
      closed = true;
      clearInterval(timer);
      await unlisten();
      await reloads.settled();
    },
  };
}
