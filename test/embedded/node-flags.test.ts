/**
 * The embedded-mode Node.js flags: decided like the configuration decides the mode, and added by
 * re-executing the process (same pid) only when it runs embedded and lacks them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { embeddedModeConfigured, embeddedNodeFlags } from '../../platform/embedded/node-flags.ts';

const execFileAsync = promisify(execFile);
const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../platform/embedded/node-flags.ts')).href;

/** Runs a process that calls restartWithEmbeddedNodeFlags() and prints its pid and flags. */
async function flagsAfterRestart(env: Record<string, string>, cwd: string): Promise<{ flags: string[]; pids: number[] }> {
  const script = `
    console.log(process.pid);
    const { restartWithEmbeddedNodeFlags } = await import(${JSON.stringify(moduleUrl)});
    restartWithEmbeddedNodeFlags();
    console.log(process.pid);
    console.log(JSON.stringify(process.execArgv.filter((flag) => !flag.startsWith('--disable-warning') && flag !== '--input-type=module' && flag !== '-e' && !flag.includes('\\n'))));`;
  const { stdout } = await execFileAsync(process.execPath, ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  const lines = stdout.trim().split('\n');
  return { flags: JSON.parse(lines.at(-1) ?? '[]') as string[], pids: lines.slice(0, -1).map(Number) };
}

describe('embedded Node.js flags', () => {
  test('embedded mode is when no service URL is set, in the environment or in .env', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-node-flags-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      assert.equal(embeddedModeConfigured({}), true);
      assert.equal(embeddedModeConfigured({ DATABASE_URL: '  ', KAFKA_BROKERS: '' }), true);
      assert.equal(embeddedModeConfigured({ REDIS_URL: 'redis://127.0.0.1:6379' }), false);
      await writeFile(join(dir, '.env'), 'KAFKA_BROKERS=127.0.0.1:9092\n');
      assert.equal(embeddedModeConfigured({}), false);
    } finally {
      process.chdir(cwd);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a process without the flags is re-executed with them in embedded mode only, keeping its pid', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-node-flags-'));
    try {
      const embedded = await flagsAfterRestart({}, dir);
      assert.deepEqual(embedded.flags, [...embeddedNodeFlags]);
      // The first pid line is printed twice (before and after the execve): one and the same process.
      assert.equal(new Set(embedded.pids).size, 1);

      const distributed = await flagsAfterRestart(
        { DATABASE_URL: 'postgres://vigil@127.0.0.1/vigil', KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://127.0.0.1:6379' },
        dir,
      );
      assert.deepEqual(distributed.flags, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
