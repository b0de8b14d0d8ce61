/**
 * The console with real volumes, in Debian's Chromium: the Now page with 1,000 automations and
 * 10,000 window keys (time from navigation to the list on screen, the trigger-status answer's
 * time and size, a filter keystroke), the bundle size, and the live tail at 1,000 events/s
 * (rate shown, longest main-thread stall). Figures only; nothing here is asserted.
 * Run: npm run bench -- console   (needs PostgreSQL from scripts/services.sh and /usr/bin/chromium)
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createApiKeys } from '../../api/api-keys.ts';
import { registerAutomationRoutes } from '../../api/automations-routes.ts';
import { consoleDirectory, registerConsoleRoutes } from '../../api/console-routes.ts';
import { createEventHistory } from '../../history/event-history.ts';
import { registerEventRoutes } from '../../api/events/event-routes.ts';
import { createEventStreamHub } from '../../api/events/event-stream-hub.ts';
import { buildServer } from '../../api/server.ts';
import { registerTriggerStatusRoutes } from '../../api/trigger-status-routes.ts';
import { registerWhoAmIRoute } from '../../api/whoami-route.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { Sql } from '../../platform/ports/database.ts';
import { validateAutomation, type Automation } from '../../schemas/automation.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { triggerHash } from '../../triggers/firing-records.ts';
import { compileTriggerProgram } from '../../triggers/trigger-program.ts';
import { launchChromium } from '../../test/support/browser.ts';
import { createTestDatabase } from '../../test/support/test-database.ts';

const automationCount = Number(process.env.BENCH_AUTOMATIONS ?? 1_000);
const keyCount = Number(process.env.BENCH_KEYS ?? 10_000);
const tailRate = Number(process.env.BENCH_TAIL_RATE ?? 1_000);
const tailSeconds = Number(process.env.BENCH_TAIL_SECONDS ?? 10);
const adminKey = 'bench-console-admin-key-0123456789';

function definition(i: number): Automation {
  const kind = i % 3;
  const base = { name: `auto-${String(i).padStart(4, '0')}`, tags: [`team-${i % 7}`, kind === 0 ? 'sla' : 'ops'], actions: [{ kind: 'emit-event', event: 'bench.fired', resource: { id: 'bench' } }] };
  const trigger =
    kind === 0
      ? { type: 'deadline', expect: ['dbt.model.refreshed'], match: { id: `dbt.model.m${i}` }, by: `${i % 60} ${6 + (i % 5)} * * 1-5`, timezone: ['Europe/Berlin', 'America/New_York', 'UTC'][i % 3] }
      : kind === 1
        ? { type: 'event', posture: 'proactive', expect: ['check_in.succeeded'], after: ['check_in.started'], within: '10m', for_each: ['resource.id'] }
        : { type: 'event', expect: ['airflow.dag_run.failed'], threshold: 3, within: '1h', for_each: ['resource.id'] };
  const result = validateAutomation({ ...base, trigger });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.automation;
}

/** 1,000 automations (a third each deadline, proactive per key, reactive per key), 10,000 window keys, an open firing on every 20th key. */
export async function seedVolumes(db: Sql): Promise<{ states: unknown[]; firings: unknown[] }> {
    const now = Date.now();
    const automations = Array.from({ length: automationCount }, (_, i) => definition(i));
    await db.query(`INSERT INTO automations (name, definition) SELECT d->>'name', d FROM jsonb_array_elements($1::jsonb) AS d`, [JSON.stringify(automations)]);
    const states: unknown[] = [];
    const firings: unknown[] = [];
    // deadline triggers have one key; the for_each ones share the rest of the 10,000
    const deadlines = automations.filter((a) => a.trigger.type === 'deadline').length;
    const perKeyed = (keyCount - deadlines) / (automations.length - deadlines);
    let keyed = 0;
    for (const [i, automation] of automations.entries()) {
      const program = compileTriggerProgram(automation, 1n, { allowedLatenessMs: 0 });
      const hash = triggerHash(automation);
      let keys = 1;
      if (automation.trigger.type !== 'deadline') {
        keyed += 1;
        keys = Math.round(keyed * perKeyed) - Math.round((keyed - 1) * perKeyed);
      }
      for (let k = 0; k < keys; k++) {
        const key = automation.trigger.type === 'deadline' ? '' : JSON.stringify([`res.${i}.${k}`]);
        const forEach = automation.trigger.type === 'deadline' ? {} : { 'resource.id': `res.${i}.${k}` };
        states.push({ automation_name: automation.name, state_key: key, trigger_hash: hash, for_each: forEach, state: program.initialState(now - 60_000, now - 60_000) });
        if ((i * 31 + k) % 20 === 0) {
          firings.push({ id: randomUUID(), automation_name: automation.name, state_key: key, for_each: forEach, triggered_at: new Date(now - k * 60_000).toISOString(), window_start: new Date(now - 3_600_000).toISOString(), window_end: new Date(now - k * 60_000).toISOString() });
        }
      }
    }
    await db.query(
      `INSERT INTO trigger_state (automation_name, state_key, trigger_hash, for_each, state)
       SELECT s->>'automation_name', s->>'state_key', s->>'trigger_hash', s->'for_each', s->'state' FROM jsonb_array_elements($1::jsonb) AS s`,
      [JSON.stringify(states)],
    );
    await db.query(
      `INSERT INTO firings (id, automation_name, state_key, for_each, status, triggered_at, window_start, window_end, event_count, event_ids)
       SELECT (f->>'id')::uuid, f->>'automation_name', f->>'state_key', f->'for_each', 'triggered', (f->>'triggered_at')::timestamptz, (f->>'window_start')::timestamptz, (f->>'window_end')::timestamptz, 0, '[]'
       FROM jsonb_array_elements($1::jsonb) AS f`,
      [JSON.stringify(firings)],
    );
  return { states, firings };
}

export async function run(): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  const database = await createTestDatabase();
  const db = database.db;
  const logger = createLogger('silent');
  const history = createEventHistory(db);
  const hub = createEventStreamHub(history, logger);
  const app = await buildServer({
    logger,
    metrics: createMetrics(),
    apiKeys: createApiKeys(db, { adminKey }),
    rateLimitPerMinute: 100_000,
    readiness: [],
    routes: [
      (server) => registerAutomationRoutes(server, db),
      (server) => registerTriggerStatusRoutes(server, db),
      (server) => registerEventRoutes(server, history, hub),
      registerWhoAmIRoute,
      (server) => registerConsoleRoutes(server),
    ],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const browser = await launchChromium();
  try {
    const { states, firings } = await seedVolumes(db);
    figures['automations'] = automationCount;
    figures['window keys'] = states.length;
    figures['open firings'] = firings.length;

    // --- the API answer alone
    const apiTimes: number[] = [];
    let bytes = 0;
    const cold = performance.now();
    await fetch(`${url}/api/trigger-status`, { headers: { authorization: `Bearer ${adminKey}` } }).then((r) => r.arrayBuffer());
    figures['GET /api/trigger-status, first (cold schedule cache) ms'] = Math.round(performance.now() - cold);
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const response = await fetch(`${url}/api/trigger-status`, { headers: { authorization: `Bearer ${adminKey}`, 'accept-encoding': 'br' } });
      bytes = (await response.arrayBuffer()).byteLength;
      apiTimes.push(performance.now() - started);
    }
    apiTimes.sort((a, b) => a - b);
    figures['GET /api/trigger-status, median ms'] = Math.round(apiTimes[2]!);
    figures['GET /api/trigger-status, KiB (JSON)'] = Math.round(bytes / 1024);
    const sent = await fetch(`${url}/api/trigger-status`, { headers: { authorization: `Bearer ${adminKey}`, 'accept-encoding': 'br' } });
    figures['GET /api/trigger-status, content-encoding'] = sent.headers.get('content-encoding') ?? 'none';
    await sent.arrayBuffer();

    // --- the Now page: navigation → rows and counts on screen (signed in; cold browser cache each time)
    const renders: number[] = [];
    const dataAt: number[] = [];
    const renderAfterData: number[] = [];
    for (let i = 0; i < 3; i++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      await context.addInitScript((key) => sessionStorage.setItem('vigil.apiKey', key), adminKey);
      const page = await context.newPage();
      const started = performance.now();
      await page.goto(`${url}/#/now`);
      await page.locator('.vrow').first().waitFor({ timeout: 30_000 });
      await page.getByText(`of ${states.length.toLocaleString('en-US').replace(/,/g, '')}`).or(page.getByText(`of ${states.length}`)).first().waitFor({ timeout: 30_000 });
      renders.push(performance.now() - started);
      // in the page's clock: when the data had arrived, and when the list was on screen
      const timing = await page.evaluate<{ data: number; now: number }>(
        `({ data: performance.getEntriesByType('resource').find((e) => e.name.includes('/api/trigger-status'))?.responseEnd ?? 0, now: performance.now() })`,
      );
      dataAt.push(timing.data);
      renderAfterData.push(timing.now - timing.data);
      if (i === 2) {
        figures['rows in the DOM (virtualised)'] = await page.locator('.vrow').count();
        const filterStarted = performance.now();
        await page.getByPlaceholder(/Filter/).fill('auto-0010');
        await page.locator('.vrow', { hasText: 'auto-0010' }).first().waitFor();
        figures['filter keystroke → list, ms'] = Math.round(performance.now() - filterStarted);
      }
      await context.close();
    }
    renders.sort((a, b) => a - b);
    dataAt.sort((a, b) => a - b);
    renderAfterData.sort((a, b) => a - b);
    figures['Now page: data received, median ms after navigation'] = Math.round(dataAt[1]!);
    figures['Now page: parse + sort + render after the data, median ms'] = Math.round(renderAfterData[1]!);
    figures['Now page: navigation → list rendered, median ms'] = Math.round(renders[1]!);
    figures['Now page: navigation → list rendered, worst ms'] = Math.round(renders[2]!);

    // --- bundle
    const size = (suffix: RegExp) =>
      Math.round(readdirSync(join(consoleDirectory, 'assets')).filter((file) => suffix.test(file)).reduce((sum, file) => sum + readFileSync(join(consoleDirectory, 'assets', file)).length, 0) / 1024);
    const entry = /src="\/assets\/([^"]+)"/.exec(readFileSync(join(consoleDirectory, 'index.html'), 'utf8'))?.[1] ?? '';
    figures['bundle (js + css, all chunks), KiB'] = size(/\.(js|css)$/);
    figures['bundle as sent (brotli), KiB'] = size(/\.(js|css)\.br$/);
    figures['Now page entry script + css, KiB'] = Math.round((readFileSync(join(consoleDirectory, 'assets', entry)).length + readdirSync(join(consoleDirectory, 'assets')).filter((f) => f.endsWith('.css')).reduce((sum, f) => sum + readFileSync(join(consoleDirectory, 'assets', f)).length, 0)) / 1024);

    // --- live tail: events written to the history at `tailRate`/s while the Events page tails them
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript((key) => sessionStorage.setItem('vigil.apiKey', key), adminKey);
    const page = await context.newPage();
    await page.goto(`${url}/#/events`);
    await page.getByLabel('Live tail').check();
    await page.getByTestId('tail-rate').waitFor();
    // frame gaps on the page's main thread: a long one means the tail makes the page unresponsive
    await page.evaluate(`(() => {
      window.tailStats = { maxGap: 0, frames: 0 };
      let last = performance.now();
      const tick = (t) => { window.tailStats.maxGap = Math.max(window.tailStats.maxGap, t - last); window.tailStats.frames += 1; last = t; requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    })()`);
    const rates: number[] = [];
    const batch = tailRate / 20;
    const tailStarted = performance.now();
    let written = 0;
    const writer = (async () => {
      while (performance.now() - tailStarted < tailSeconds * 1000) {
        const received = new Date().toISOString();
        const events: VigilEvent[] = Array.from({ length: batch }, (_, i) => ({
          id: randomUUID(),
          occurred: received,
          received,
          event: 'bench.tail.tick',
          resource: { id: `res.${i % 50}`, env: 'prod' },
          related: [],
          payload: { n: written + i },
        }));
        await history.write(db, events);
        written += batch;
        const wait = tailStarted + (written / tailRate) * 1000 - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    })();
    while (performance.now() - tailStarted < tailSeconds * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (performance.now() - tailStarted > 3_000) rates.push(Number(await page.getByTestId('tail-rate').textContent()));
    }
    await writer;
    const stats = await page.evaluate<{ maxGap: number; frames: number }>('window.tailStats');
    const elapsed = (performance.now() - tailStarted) / 1000;
    figures['live tail: events written per s'] = Math.round(written / elapsed);
    rates.sort((a, b) => a - b);
    figures['live tail: rate shown by the page, median per s'] = rates[Math.floor(rates.length / 2)] ?? 0;
    figures['live tail: rate shown by the page, lowest per s'] = rates[0] ?? 0;
    figures['live tail: longest main-thread stall, ms'] = Math.round(stats.maxGap);
    figures['live tail: frames per s'] = Math.round(stats.frames / elapsed);
    await context.close();
  } finally {
    await browser.close();
    hub.close();
    await app.close();
    await database.drop();
  }
  return figures;
}

if (import.meta.main) console.log(await run());
