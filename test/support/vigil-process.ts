import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait-for.ts';

const cliPath = new URL('../../cli/main.ts', import.meta.url).pathname;

export interface VigilProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, and waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** Starts `vigil start` as its own process with the given environment and waits for /readyz. */
export async function startVigilProcess(env: Record<string, string>, port: number, args: readonly string[] = ['start']): Promise<VigilProcess> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', cliPath, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VIGIL_LOG_LEVEL: 'warn', ...env, VIGIL_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('vigil start to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}: ${output}`);
      return (await fetch(`${url}/readyz`)).ok;
    }, 90_000, 200);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Calls a Vigil process's API with a key; JSON in, `{status, body}` out. */
export function vigilApi(url: string, apiKey: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}
