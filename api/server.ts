import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { eventLimits } from '../schemas/limits.ts';
import type { ApiKeys } from './api-keys.ts';
import { registerAuthentication } from './authentication.ts';
import { HttpError } from '../platform/http/http-error.ts';
import { registerRequestRules } from '../platform/http/request-rules.ts';
import { registerSystemRoutes, type ReadinessCheck } from './system-routes.ts';

export interface ServerOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly apiKeys: ApiKeys;
  readonly rateLimitPerMinute: number;
  /** Dependencies /readyz checks (event log, database, queue). */
  readonly readiness: readonly ReadinessCheck[];
  /** Route groups to mount (intake, control plane), each given the app. */
  readonly routes: ReadonlyArray<(app: FastifyInstance) => void>;
}

/** Error codes of fastify's own request errors, answered with our error body. */
function frameworkError(error: FastifyError): HttpError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'request_too_large', `the request body is larger than ${eventLimits.maxRequestBytes} bytes (${eventLimits.maxRequestBytes / 1024 / 1024} MiB), the most one request may carry; split it into smaller batches`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'unsupported_media_type', error.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'bad_request', error.message);
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? new HttpError(error.statusCode, 'bad_request', error.message)
        : undefined;
  }
}

/** The one HTTP app: intake, control plane, health, metrics and OpenAPI docs. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: options.logger,
    bodyLimit: eventLimits.maxRequestBytes,
    // One log line per request would drown the logs at ingest rates; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Automation names may be 128 characters; fastify's default refuses path parameters over 100.
    routerOptions: { maxParamLength: 256 },
    // Live streams never end by themselves; closing the server ends them.
    forceCloseConnections: true,
  });

  // Every body arrives raw; routes decode it strictly (UTF-8, JSON, NDJSON, CloudEvents)
  // so that each format's errors can say exactly what is wrong.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  // Validation is done with zod in the handlers; the JSON schemas only document the API.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = error instanceof HttpError ? error : frameworkError(error);
    if (problem) {
      return reply.code(problem.status).headers(problem.headers).send(problem.toBody());
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error; the details are in the server log' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.addHook('onResponse', async (request, reply) => {
    options.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode });
  });

  registerRequestRules(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Vigil', version: '0.1.0', description: 'Event-driven automations engine for data platforms.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Vigil API key' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerAuthentication(app, options.apiKeys);
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: options.rateLimitPerMinute,
    timeWindow: 60_000,
    // Only authenticated calls are limited, per key; public routes (health, metrics) are not.
    allowList: (request) => request.apiKey === undefined,
    keyGenerator: (request) => request.apiKey?.id ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'rate_limited', `this API key made more than ${context.max} requests in a minute; retry in ${Math.ceil(context.ttl / 1000)} s`, {
        headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
      }),
  });

  registerSystemRoutes(app, options.metrics, options.readiness);
  for (const register of options.routes) register(app);
  return app;
}
