import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import { VigilClient } from '../sdk/vigil-client.ts';
import { CliError, exitCodes } from './exit-codes.ts';

export interface ConnectionOptions {
  readonly url?: string;
  readonly apiKey?: string;
}

export interface Connection {
  readonly url: string;
  readonly apiKey: string;
  /** Where the key came from, for messages. */
  readonly keySource: string;
}

/** Adds --url and --api-key to a client command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--url <url>', 'Vigil URL (env VIGIL_URL; default http://127.0.0.1:7700)')
    .option('--api-key <key>', 'API key (env VIGIL_API_KEY; default: $VIGIL_DATA_DIR/admin-key, the embedded mode key)');
}

/** process.env over a `.env` file in the working directory, as the server reads its configuration. */
function environment(): NodeJS.ProcessEnv {
  let fromFile: NodeJS.ProcessEnv = {};
  try {
    if (existsSync('.env')) fromFile = parseEnv(readFileSync('.env', 'utf8'));
  } catch {
    // an unreadable .env is the server's problem to report
  }
  return { ...fromFile, ...process.env };
}

/** Where the server is: --url, VIGIL_URL (`explicit`), or the embedded mode's default http://127.0.0.1:$VIGIL_PORT. */
export function serverUrl(options: ConnectionOptions, env: NodeJS.ProcessEnv = environment()): { url: string; explicit: boolean } {
  if (options.url !== undefined) return { url: options.url, explicit: true };
  if (env.VIGIL_URL) return { url: env.VIGIL_URL, explicit: true };
  return { url: `http://127.0.0.1:${env.VIGIL_PORT || '7700'}`, explicit: false };
}

/**
 * Where the server is and which key to use: flags, then VIGIL_URL / VIGIL_API_KEY, then the
 * embedded mode's defaults (http://127.0.0.1:$VIGIL_PORT and $VIGIL_DATA_DIR/admin-key).
 */
export function resolveConnection(options: ConnectionOptions, env: NodeJS.ProcessEnv = environment()): Connection {
  const { url } = serverUrl(options, env);
  if (options.apiKey) return { url, apiKey: options.apiKey, keySource: '--api-key' };
  if (env.VIGIL_API_KEY) return { url, apiKey: env.VIGIL_API_KEY, keySource: 'VIGIL_API_KEY' };
  const keyFile = join(resolve(env.VIGIL_DATA_DIR || './.vigil'), 'admin-key');
  let key: string | undefined;
  try {
    key = readFileSync(keyFile, 'utf8').trim();
  } catch {
    key = undefined;
  }
  if (!key) {
    throw new CliError(exitCodes.usage, `no API key: pass --api-key, set VIGIL_API_KEY, or run where an embedded Vigil keeps ${keyFile}`);
  }
  return { url, apiKey: key, keySource: keyFile };
}

/** A VigilClient for the command's connection options. */
export function connect(options: ConnectionOptions): VigilClient {
  const connection = resolveConnection(options);
  try {
    return new VigilClient({ url: connection.url, apiKey: connection.apiKey });
  } catch (error) {
    throw new CliError(exitCodes.usage, error instanceof Error ? error.message : String(error));
  }
}
