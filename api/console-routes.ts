import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/*
 * The web console at `/`: the files built into console/dist (scripts/build-console.ts, run by
 * scripts/env.sh). Hashed assets are cached for a year (and sent brotli- or gzip-compressed as
 * built); index.html is revalidated every time.
 * A strict Content-Security-Policy allows only this origin's scripts, styles and API, so no
 * injected script can run and read the API key. Nothing is fetched from anywhere else.
 */

export const consoleDirectory = fileURLToPath(new URL('../console/dist/', import.meta.url));

const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function registerConsoleRoutes(app: FastifyInstance, directory = consoleDirectory): void {
  if (!existsSync(join(directory, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, (_request, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The web console is not built: run `source scripts/env.sh` (it builds console/dist) or `node scripts/build-console.ts`. The API is at /docs.'),
    );
    return;
  }
  // fastify queues the plugin; listen() and ready() wait for it.
  void app.register(fastifyStatic, {
    root: directory,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    // scripts/build-console.ts writes each asset brotli- and gzip-compressed beside it
    preCompressed: true,
    schemaHide: true,
    setHeaders(response, path) {
      response.header('x-content-type-options', 'nosniff');
      response.header('referrer-policy', 'no-referrer');
      if (path.endsWith('.html')) {
        response.header('cache-control', 'no-cache');
        response.header('content-security-policy', contentSecurityPolicy);
        response.header('x-frame-options', 'DENY');
      } else {
        response.header('cache-control', 'public, max-age=31536000, immutable');
      }
    },
  });
}
