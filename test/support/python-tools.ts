import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (never throws on a non-zero exit: the caller asserts the code). */
export async function runCommand(command: string, args: readonly string[], env: Record<string, string>, timeoutMs = 300_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await exec(command, [...args], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? failed.message };
  }
}

/**
 * The cached virtual environment .python/NAME from scripts/python/NAME.txt (scripts/python-env.sh;
 * scripts/test.sh prepares them, so here it is a lookup), with this checkout's Python package
 * (sdk/python) installed into it the way a user would: `pip install ./sdk/python`.
 */
export async function pythonEnvWithVigil(name: string): Promise<string> {
  const prepared = await runCommand('bash', ['-c', `source scripts/python-env.sh && venv=$(vigil_python_env ${name}) && "$(vigil_uv)" pip install --quiet --python "$venv/bin/python" --reinstall-package vigil-client ./sdk/python >&2 && echo "$venv"`], {
    UV_NATIVE_TLS: '1',
    UV_PYTHON_DOWNLOADS: 'never',
    UV_NO_PROGRESS: '1',
  }, 900_000);
  if (prepared.code !== 0) throw new Error(`preparing .python/${name} failed:\n${prepared.stderr}`);
  return prepared.stdout.trim().split('\n').at(-1)!;
}
