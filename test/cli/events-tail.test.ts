import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startEventPersister } from '../../history/event-persister.ts';
import { createLogger } from '../../platform/logger.ts';
import type { VigilEvent } from '../../schemas/event.ts';
import { json, startIngestHarness, type IngestHarness } from '../support/ingest-harness.ts';
import { waitFor } from '../support/wait-for.ts';
import { runCli, spawnCli } from './run-cli.ts';

interface Tail {
  readonly child: ChildProcess;
  lines(): string[];
  stderr(): string;
  exited: Promise<number | null>;
}

function startTail(args: string[], env: Record<string, string>): Tail {
  const child = spawnCli(['events', 'tail', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, lines: () => stdout.split('\n').filter((line) => line !== ''), stderr: () => stderr, exited };
}

describe('vigil events tail: the live stream over the real pipeline (intake → Kafka → persister → SSE)', () => {
  let harness: IngestHarness;
  let persister: { close(): Promise<void> };
  let env: Record<string, string>;
  const tails: Tail[] = [];

  before(async () => {
    harness = await startIngestHarness();
    persister = await startEventPersister({ db: harness.database.db, log: harness.log, logger: createLogger('silent'), retentionDays: 7 });
    env = { VIGIL_URL: harness.url, VIGIL_API_KEY: harness.adminKey };
  });
  after(async () => {
    for (const tail of tails) tail.child.kill('SIGKILL');
    await persister.close();
    await harness.close();
  });

  /** Sends probe events until the tail shows one: then its subscription is live. */
  async function untilSubscribed(tail: Tail, resource: string): Promise<void> {
    await waitFor('the tail to receive a probe event', async () => {
      if (tail.lines().length > 0) return true;
      await harness.post('/api/events', json({ event: 'tail.probe', resource: { id: resource, env: 'prod' } }));
      await new Promise((resolve) => setTimeout(resolve, 200));
      return tail.lines().length > 0;
    }, 60_000);
  }

  test('one JSON line per matching event until Ctrl-C (exit 0)', async () => {
    const tail = startTail(['--event', 'tail.*', '--resource', 'tail.dag', '--label', 'env=prod'], env);
    tails.push(tail);
    await untilSubscribed(tail, 'tail.dag');
    const before = tail.lines().length;
    const response = await harness.post('/api/events', json([
      { id: 'tail-1', event: 'tail.dag_run.success', resource: { id: 'tail.dag', env: 'prod' }, payload: { n: 1 } },
      { id: 'tail-other-resource', event: 'tail.dag_run.success', resource: { id: 'other.dag', env: 'prod' } },
      { id: 'tail-other-env', event: 'tail.dag_run.success', resource: { id: 'tail.dag', env: 'dev' } },
      { id: 'tail-other-name', event: 'cron.heartbeat', resource: { id: 'tail.dag', env: 'prod' } },
      { id: 'tail-2', event: 'tail.dag_run.failed', resource: { id: 'tail.dag', env: 'prod' } },
    ]));
    assert.equal(response.status, 202);
    // Probes posted while waiting for the subscription may still arrive: they are left out.
    const shown = () => tail.lines().slice(before).filter((line) => !line.includes('"tail.probe"'));
    await waitFor('two events on the tail', () => shown().length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 500)); // an unfiltered event would show up by now

    const events = shown().map((line) => JSON.parse(line) as VigilEvent);
    assert.deepEqual(events.map((event) => event.id), ['tail-1', 'tail-2']);
    assert.deepEqual(events[0]!.payload, { n: 1 });
    assert.equal(events[0]!.resource.env, 'prod');

    tail.child.kill('SIGINT');
    assert.equal(await tail.exited, 0);
  });

  test('--format pretty prints one readable line per event', async () => {
    const tail = startTail(['--resource', 'tail.pretty', '--format', 'pretty'], env);
    tails.push(tail);
    await untilSubscribed(tail, 'tail.pretty');
    const before = tail.lines().length;
    await harness.post('/api/events', json({ event: 'tail.pretty.done', occurred: '2026-11-22T08:59:00Z', resource: { id: 'tail.pretty', env: 'prod' }, payload: { rows: 3 } }));
    // Probes posted while waiting for the subscription may still arrive: they are left out.
    const shown = () => tail.lines().slice(before).filter((line) => !line.includes(' tail.probe '));
    await waitFor('the pretty line', () => shown().length > 0);
    assert.equal(shown()[0], '2026-11-22T08:59:00.000Z tail.pretty.done tail.pretty env=prod {"rows":3}');
    tail.child.kill('SIGINT');
    assert.equal(await tail.exited, 0);
  });

  test('a refused subscription exits 3 with the server\'s message; a bad glob exits 1', async () => {
    const refused = await runCli(['events', 'tail'], { env: { ...env, VIGIL_API_KEY: 'wrong' } });
    assert.equal(refused.code, 3);
    assert.equal(refused.stderr, 'vigil: the API key is unknown or revoked [401 unauthorized]\n');

    const badGlob = await runCli(['events', 'tail', '--event', 'a..b'], { env });
    assert.equal(badGlob.code, 1);
    assert.match(badGlob.stderr, /^vigil: query parameter event: .*\[400 invalid_query\]\n$/);

    const badFormat = await runCli(['events', 'tail', '--format', 'xml'], { env });
    assert.equal(badFormat.code, 2);
  });
});
