import { constants } from 'node:zlib';
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';
import type { Sql } from '../platform/ports/database.ts';
import { historyLength, readTriggerStatus } from '../triggers/trigger-status.ts';

/*
 * GET /api/trigger-status (read): every automation with the state of each of its window keys —
 * firing, waiting (due_at), resolved recently, ok, paused — and, for deadline and proactive
 * automations, the last 30 windows as met / missed / late-recovered. The console's Now page.
 * The read model lives with the tables it reads (triggers/trigger-status.ts). The answer is
 * large (about 2 MiB for 10,000 keys) and repetitive: it is compressed (brotli or gzip, ~30×)
 * for clients that accept it, which is every browser.
 */

const keyState = {
  type: 'object',
  properties: {
    key: { type: 'string', description: 'The window key (`""` without for_each)' },
    for_each: { type: 'object', additionalProperties: { type: 'string' }, description: 'The for_each labels of this key' },
    status: { type: 'string', enum: ['firing', 'waiting', 'resolved', 'ok', 'paused'] },
    since: { type: 'string', format: 'date-time', nullable: true, description: 'firing: when it fired; resolved: when it resolved' },
    due_at: { type: 'string', format: 'date-time', nullable: true, description: 'waiting: when the open window falls due' },
    count: { type: 'integer', nullable: true, description: 'Events the open window holds' },
    threshold: { type: 'integer', nullable: true },
    last_event_at: { type: 'string', format: 'date-time', nullable: true },
    firing_id: { type: 'string', format: 'uuid', nullable: true, description: 'The unresolved firing' },
    history: {
      type: 'string',
      nullable: true,
      description: `Deadline and proactive automations: one letter per window, the last ${historyLength}, oldest first: m met, M missed, L missed and recovered late, - before the automation existed`,
    },
  },
  required: ['key', 'for_each', 'status'],
} as const;

const problem = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } }, required: ['error', 'message'] } as const;

export function registerTriggerStatusRoutes(app: FastifyInstance, db: Sql): void {
  // fastify queues the plugin; listen() and ready() wait for it. Compression applies in this scope only.
  void app.register(async (scope) => {
    await scope.register(compress, { global: true, threshold: 4096, encodings: ['br', 'gzip'], brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } } });
    registerRoute(scope, db);
  });
}

function registerRoute(app: FastifyInstance, db: Sql): void {
  app.get(
    '/api/trigger-status',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'What every automation is doing now, per window key',
        description:
          'Every automation with each of its window keys: `firing` (unresolved firing, since), `waiting` (window open, due_at), `resolved` (within the last hour), `ok`, `paused` (disabled); ' +
          `for deadline and proactive automations the last ${historyLength} windows in \`history\`. An automation without window state shows one key \`""\`.`,
        tags: ['automations'],
        response: {
          200: {
            type: 'object',
            properties: {
              generated_at: { type: 'string', format: 'date-time' },
              automations: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    description: { type: 'string', nullable: true },
                    enabled: { type: 'boolean' },
                    tags: { type: 'array', items: { type: 'string' } },
                    trigger_type: { type: 'string', description: 'deadline, event/reactive, event/proactive, compound or sequence' },
                    keys: { type: 'array', items: keyState },
                  },
                  required: ['name', 'enabled', 'tags', 'trigger_type', 'keys'],
                },
              },
            },
            required: ['generated_at', 'automations'],
          },
          401: problem,
          403: problem,
        },
      },
    },
    async () => {
      const now = Date.now();
      return { generated_at: new Date(now).toISOString(), automations: await readTriggerStatus(db, now) };
    },
  );
}
