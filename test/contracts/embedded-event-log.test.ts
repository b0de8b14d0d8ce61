/**
 * The EventLog contract on the embedded log table (a fresh in-memory PGlite store per test),
 * plus what is specific to it: a fixed partition count, offsets that survive retention and a
 * reopen, and appends that survive a SIGKILL of the process once `append` resolved.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { openPgliteDatabase } from '../../platform/embedded/pglite-database.ts';
import { createTableEventLog } from '../../platform/embedded/table-event-log.ts';
import type { LogRecord } from '../../platform/ports/event-log.ts';
import { describeEventLogContract, makeEvents, sortedIds, waitUntil } from './event-log-contract.ts';

describeEventLogContract('embedded log table', async () => {
  const db = await openPgliteDatabase();
  const log = await createTableEventLog({ db, partitions: 4, pollIntervalMs: 200 });
  return {
    log,
    async cleanup() {
      await log.close();
      await db.close();
    },
  };
});

const repositoryRoot = resolve(import.meta.dirname, '../..');

async function withStoreDir(body: (dataDir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-embedded-log-'));
  try {
    await body(join(dir, 'store'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(records: AsyncIterable<LogRecord>): Promise<LogRecord[]> {
  const result: LogRecord[] = [];
  for await (const record of records) result.push(record);
  return result;
}

describe('embedded log table', () => {
  test('keeps its partition count and offsets across a reopen; a different count is refused', async () => {
    await withStoreDir(async (dataDir) => {
      let db = await openPgliteDatabase({ dataDir });
      let log = await createTableEventLog({ db, partitions: 3 });
      const first = makeEvents(30, { resources: 5 });
      await log.append(first);
      await log.close();
      await db.close();

      db = await openPgliteDatabase({ dataDir });
      try {
        await assert.rejects(createTableEventLog({ db, partitions: 5 }), /has 3 partitions, not the 5 configured/);
        log = await createTableEventLog({ db });
        assert.equal(log.partitions, 3);
        const second = makeEvents(30, { resources: 5, prefix: 'second' });
        await log.append(second);
        const records = await readAll(log.readSince(new Date(0)));
        assert.deepEqual(sortedIds(records), sortedIds([...first, ...second]));
        for (let partition = 0; partition < 3; partition += 1) {
          const offsets = records.filter((record) => record.partition === partition).map((record) => record.offset);
          assert.deepEqual(offsets, offsets.map((_, index) => BigInt(index)), `partition ${partition}: dense offsets from 0`);
        }
        await log.close();
      } finally {
        await db.close();
      }
    });
  });

  test('retention deletes old records without reusing their offsets', async () => {
    const db = await openPgliteDatabase();
    try {
      const log = await createTableEventLog({ db, partitions: 1, retentionMs: 0 });
      const old = makeEvents(10, { resources: 2, receivedAt: () => Date.now() - 3_600_000 });
      await log.append(old);
      assert.equal(await log.deleteBefore(new Date(Date.now() - 60_000)), 10);
      const fresh = makeEvents(5, { resources: 2, prefix: 'fresh' });
      await log.append(fresh);
      const records = await readAll(log.readSince(new Date(0)));
      assert.deepEqual(
        records.map((record) => record.offset),
        [10n, 11n, 12n, 13n, 14n],
      );
      await log.close();
    } finally {
      await db.close();
    }
  });

  test('a third member joining and one leaving rebalance the group; each event is handled once', async () => {
    const db = await openPgliteDatabase();
    try {
      const log = await createTableEventLog({ db, partitions: 6, pollIntervalMs: 100 });
      const seen: LogRecord[] = [];
      const open = () =>
        log.consume({
          group: 'rebalance',
          maxBatchSize: 7,
          handle(batch) {
            seen.push(...batch.records);
            return Promise.resolve();
          },
        });
      const a = await open();
      const b = await open();
      const events = makeEvents(300, { resources: 50 });
      await log.append(events.slice(0, 100));
      const c = await open();
      await log.append(events.slice(100, 200));
      await b.close();
      await log.append(events.slice(200));
      await waitUntil(() => seen.length >= events.length, 'all events handled');
      assert.deepEqual(sortedIds(seen), sortedIds(events));
      await a.close();
      await c.close();
      await log.close();
    } finally {
      await db.close();
    }
  });

  test('an append that resolved survives a SIGKILL of the process', async () => {
    await withStoreDir(async (dataDir) => {
      // Appends batches forever, printing the ids of every batch whose append resolved.
      const script = `
        import { openPgliteDatabase } from ${JSON.stringify(pathToFileURL(join(repositoryRoot, 'platform/embedded/pglite-database.ts')).href)};
        import { createTableEventLog } from ${JSON.stringify(pathToFileURL(join(repositoryRoot, 'platform/embedded/table-event-log.ts')).href)};
        import { makeEvents } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'event-log-contract.ts')).href)};
        const db = await openPgliteDatabase({ dataDir: process.argv[1] });
        const log = await createTableEventLog({ db, partitions: 4 });
        for (;;) {
          const events = makeEvents(10, { resources: 7 });
          await log.append(events);
          process.stdout.write('ack ' + events.map((event) => event.id).join(',') + '\\n');
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      const acknowledged: string[] = [];
      let buffer = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('ack ')) acknowledged.push(...line.slice(4).split(','));
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      await waitUntil(() => acknowledged.length >= 2000, '2000 acknowledged appends', 120_000);
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      const acked = [...acknowledged];

      const db = await openPgliteDatabase({ dataDir });
      try {
        const log = await createTableEventLog({ db });
        const stored = new Set((await readAll(log.readSince(new Date(0)))).map((record) => record.event.id));
        const lost = acked.filter((id) => !stored.has(id));
        assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged events lost`);
        await log.close();
      } finally {
        await db.close();
      }
    });
  });
});
