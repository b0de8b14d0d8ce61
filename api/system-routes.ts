import type { FastifyInstance } from 'fastify';
import { consumerHealth } from '../platform/consumers/consumer-health.ts';
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

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the event log and the database answer',
        description:
          '503 when the event log or the database does not answer (an optional check, such as a Prefect event source, reports its state without making Vigil unready). `consumers` shows each consumer of the log in this process (lag, seconds since its position moved, ok/lagging/stuck); a stuck consumer makes the status `degraded` but keeps 200: the intake still takes events.',
        tags: ['system'],
        security: [],
      },
    },
    async (_request, reply) => {
      const [checks, consumers] = await Promise.all([Promise.all(readiness.map(runCheck)), consumerHealth(metrics.registry).report()]);
      const ready = checks.every((check) => check.ok || check.optional);
      const status = !ready ? 'not_ready' : consumers.some((consumer) => consumer.state === 'stuck') ? 'degraded' : 'ready';
      return reply.code(ready ? 200 : 503).send({ status, checks, consumers });
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'], security: [], response: { 200: { description: 'The Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => Promise.resolve(app.swagger()));
}
