import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../platform/metrics.ts';

export interface ReadinessCheck {
  readonly name: string;
  check(): Promise<void>;
}

const checkTimeoutMs = 2_000;

async function runCheck(check: ReadinessCheck): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return { name: check.name, ok: true };
  } catch (error) {
    return { name: check.name, ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz (the process is up), /readyz (its dependencies answer), /metrics, /openapi.json. */
export function registerSystemRoutes(app: FastifyInstance, metrics: Metrics, readiness: readonly ReadinessCheck[]): void {
  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['system'], security: [] } }, () => Promise.resolve({ status: 'ok' }));

  app.get('/readyz', { schema: { summary: 'Readiness: the event log and the database answer', tags: ['system'], security: [] } }, async (_request, reply) => {
    const checks = await Promise.all(readiness.map(runCheck));
    const ready = checks.every((check) => check.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'], security: [] } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => Promise.resolve(app.swagger()));
}
