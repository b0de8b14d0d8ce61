/**
 * `vigil start` in embedded mode as a child process, for the embedded start test and the
 * start-up benchmark: no service URLs in its environment, its own data directory and port.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { embeddedNodeFlags } from '../../platform/embedded/node-flags.ts';

const cliPath = new URL('../../cli/main.ts', import.meta.url).pathname;


/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface EmbeddedVigilOptions {
  readonly dataDir: string;
  readonly port: number;
  /** Node.js flags before the script (default: those the `vigil` launcher passes in embedded mode). */
  readonly nodeFlags?: readonly string[];
  /** Added to (or, when undefined, removed from) the child's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface EmbeddedVigil {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly url: string;
  /** When it was spawned (performance.now()). */
  readonly spawnedAt: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/**
 * Spawns `node cli/main.ts start` in embedded mode: DATABASE_URL, KAFKA_BROKERS, REDIS_URL and
 * VIGIL_ADMIN_KEY removed from its environment, and run from the data directory's parent so that
 * no `.env` file of the working tree applies.
 */
export function spawnEmbeddedVigil(options: EmbeddedVigilOptions): EmbeddedVigil {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of ['DATABASE_URL', 'KAFKA_BROKERS', 'REDIS_URL', 'VIGIL_ADMIN_KEY', 'NODE_OPTIONS']) delete env[name];
  Object.assign(env, {
    VIGIL_DATA_DIR: options.dataDir,
    VIGIL_PORT: String(options.port),
    VIGIL_HOST: '127.0.0.1',
    VIGIL_LOG_LEVEL: 'warn',
    ...options.env,
  });
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? embeddedNodeFlags), '--disable-warning=ExperimentalWarning', cliPath, 'start'], {
    cwd: join(options.dataDir, '..'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, url: `http://127.0.0.1:${options.port}`, spawnedAt, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Polls /readyz until it answers 200; returns the milliseconds since spawn. Fails if the process exits first. */
export async function waitUntilReady(vigil: EmbeddedVigil, timeoutMs = 60_000, intervalMs = 10): Promise<number> {
  const deadline = vigil.spawnedAt + timeoutMs;
  let exit: number | NodeJS.Signals | undefined;
  void vigil.exited.then((code) => (exit = code));
  while (performance.now() < deadline) {
    if (exit !== undefined) throw new Error(`vigil exited (${exit}) before it was ready:\n${vigil.stdout()}\n${vigil.stderr()}`);
    try {
      const response = await fetch(`${vigil.url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - vigil.spawnedAt;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`vigil was not ready within ${timeoutMs} ms:\n${vigil.stdout()}\n${vigil.stderr()}`);
}

/** SIGTERM (or the given signal) and waits for the exit; SIGKILL after `graceMs`. */
export async function stopVigil(vigil: EmbeddedVigil, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | NodeJS.Signals> {
  if (vigil.child.exitCode === null && vigil.child.signalCode === null) {
    vigil.child.kill(signal);
    const timer = setTimeout(() => vigil.child.kill('SIGKILL'), graceMs);
    try {
      return await vigil.exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return vigil.exited;
}

/** A field of /proc/<pid>/status in MB (VmRSS: resident now; VmHWM: peak resident). */
export async function processMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Math.round(Number(match[1]) / 102.4) / 10;
}

/** CPU time (user + system, every thread) the process used so far, in ms. */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces), from field 3 on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** The local admin key: the one `vigil start` generated into the data directory. */
export async function readAdminKey(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, 'admin-key'), 'utf8')).trim();
}
