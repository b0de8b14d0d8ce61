import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../platform/metrics.ts';

export interface ReadinessCheck {
  readonly name: string;
  /**
   * Resolves when ready; rejects otherwise. May resolve to a report: `ok` and a `detail` shown
   * under the check (e.g. the Prefect event sources' states and lag).
   */
  check(): Promise<void | { ok: boolean; detail: unknown }>;
  /** An optional check is reported but does not make the process unready (an outside system, not ours). */
  readonly optional?: boolean;
}

const checkTimeoutMs = 2_000;

interface CheckResult {
  name: string;
  ok: boolean;
  optional?: true;
  error?: string;
  detail?: unknown;
}

async function runCheck(check: ReadinessCheck): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  const optional = check.optional ? { optional: true as const } : {};
  try {
    const report = await Promise.race([check.check(), timeout]);
    return report ? { name: check.name, ok: report.ok, ...optional, detail: report.detail } : { name: check.name, ok: true, ...optional };
  } catch (error) {
    return { name: check.name, ok: false, ...optional, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz (the process is up), /readyz (its dependencies answer), /metrics, /openapi.json. */
export function registerSystemRoutes(app: FastifyInstance, metrics: Metrics, readiness: readonly ReadinessCheck[]): void {
  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['system'], security: [] } }, () => Promise.resolve({ status: 'ok' }));

  app.get('/readyz', { schema: { summary: 'Readiness: the event log and the database answer', tags: ['system'], security: [] } }, async (_request, reply) => {
    const checks = await Promise.all(readiness.map(runCheck));
    const ready = checks.every((check) => check.ok || check.optional);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'], security: [] } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => Promise.resolve(app.swagger()));
}
