import { resolve } from 'node:path';
import type { Command } from 'commander';
import { apiKeyScopes, type ApiKeyResource, type CreatedApiKey, type Scope } from '../../schemas/api-key.ts';
import { ConfigError, loadConfig } from '../../platform/config.ts';
import { VigilApiError } from '../../sdk/errors.ts';
import { createApiKeys, generateKeySecret, type ApiKeys } from '../../api/api-keys.ts';
import { connect, serverUrl, withConnectionOptions, type ConnectionOptions } from '../connection.ts';
import { CliError, exitCodes } from '../exit-codes.ts';
import { commaListOf } from '../option-parsers.ts';
import { clientAction, formatTable, print, printJson, shortTime } from '../output.ts';

/*
 * `vigil keys create|list|revoke`: through the HTTP API of a running Vigil (admin key), or —
 * when none answers at the default address, or with --local — on the database directly
 * (the embedded store, or DATABASE_URL), which needs no key: access to the database is the
 * authority. Each command says on stderr which path it took (docs/decisions/0421).
 */

interface KeysOptions extends ConnectionOptions {
  readonly local?: boolean;
}

/** Adds --url, --api-key and --local. */
function withKeysOptions(command: Command): Command {
  return withConnectionOptions(command).option('--local', 'work on the database directly (the embedded store or DATABASE_URL), not through a running Vigil');
}

function note(line: string): void {
  process.stderr.write(`vigil: ${line}\n`);
}

/** Runs `work` on the database directly, opened (and migrated) from the configuration, and says so. */
async function onDatabase<T>(why: string, work: (keys: ApiKeys) => Promise<T>): Promise<T> {
  const { openMigratedDatabase } = await import('../start/infrastructure.ts');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(exitCodes.usage, error.message);
    throw error;
  }
  const where = config.mode === 'embedded' ? `the embedded store in ${resolve(config.VIGIL_DATA_DIR)}` : 'the database at DATABASE_URL';
  let db;
  try {
    ({ db } = await openMigratedDatabase(config));
  } catch (error) {
    if (error instanceof Error && error.name === 'StoreLockedError') {
      const hint = why === '--local' ? 'run the command without --local to go through its API' : 'give its admin key (--api-key or VIGIL_API_KEY, e.g. its VIGIL_ADMIN_KEY) to go through its API';
      throw new CliError(exitCodes.server, `${error.message}; a running Vigil holds it: ${hint}`);
    }
    throw error;
  }
  try {
    const result = await work(createApiKeys(db));
    note(`${why}: used ${where} directly`);
    return result;
  } finally {
    await db.close();
  }
}

/**
 * Runs a keys operation through the running Vigil's API, or on the database directly: with
 * --local; or when the address is the default one (no --url, no VIGIL_URL) and either no API
 * key is configured or nothing listens there. An explicit address that does not answer is an
 * error, never a silent switch to some local store.
 */
async function run<T>(options: KeysOptions, viaApi: (client: ReturnType<typeof connect>) => Promise<T>, viaDatabase: (keys: ApiKeys) => Promise<T>): Promise<T> {
  if (options.local) return onDatabase('--local', viaDatabase);
  const { url, explicit } = serverUrl(options);
  let client: ReturnType<typeof connect>;
  try {
    client = connect(options);
  } catch (error) {
    if (explicit || !(error instanceof CliError)) throw error;
    return onDatabase('no API key for a running Vigil is configured', viaDatabase);
  }
  try {
    const result = await viaApi(client);
    note(`through the API of the Vigil at ${url}`);
    return result;
  } catch (error) {
    // Connection refused: the request never reached a server, so doing it here instead cannot double it.
    const refused = error instanceof VigilApiError && error.code === 'network_error' && /ECONNREFUSED/.test(error.message);
    if (!refused) throw error;
    if (explicit) throw new CliError(exitCodes.server, `${error.message}; with --local the command works on the database directly`);
    return onDatabase(`no Vigil answered at ${url}`, viaDatabase);
  }
}

function keyRow(key: ApiKeyResource): string[] {
  return [key.id, key.name, key.scopes.join(','), shortTime(key.created_at), shortTime(key.last_used_at)];
}

/** `vigil keys create|list|revoke|generate`. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('API keys: through a running Vigil, or on its database directly');

  withKeysOptions(
    keys
      .command('create')
      .description('create an API key and print it as JSON with its secret (shown once)')
      .requiredOption('--name <name>', 'who or what uses the key, e.g. airflow-prod')
      .option('--scopes <scopes>', `comma-separated scopes (${apiKeyScopes.join(', ')})`, (value: string) => [...new Set(commaListOf(apiKeyScopes, 'scope')(value))], ['events:write'] as Scope[]),
  ).action(
    clientAction(async (options: KeysOptions & { name: string; scopes: Scope[] }) => {
      const created: CreatedApiKey = await run(
        options,
        (client) => client.keys.create(options.name, options.scopes),
        (store) => store.create(options.name, options.scopes),
      );
      printJson({ id: created.id, name: created.name, scopes: created.scopes, created_at: created.created_at, secret: created.secret });
      return exitCodes.ok;
    }),
  );

  withKeysOptions(keys.command('list').description('list the keys that authenticate (never their secrets)').option('--json', 'print JSON')).action(
    clientAction(async (options: KeysOptions & { json?: boolean }) => {
      const list = await run(options, (client) => client.keys.list(), (store) => store.list());
      if (options.json) printJson(list);
      else for (const line of formatTable(['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED'], list.map(keyRow))) print(line);
      return exitCodes.ok;
    }),
  );

  withKeysOptions(keys.command('revoke').description('revoke a key: it stops authenticating at once').argument('<id>', 'key id (from keys list)')).action(
    clientAction(async (id: string, options: KeysOptions) => {
      const revoked = await run(
        options,
        async (client) => {
          await client.keys.revoke(id);
          return true;
        },
        (store) => store.revoke(id),
      );
      if (!revoked) throw new CliError(exitCodes.invalidInput, `no API key ${JSON.stringify(id)} that authenticates (unknown or already revoked)`);
      print(`revoked ${id}`);
      return exitCodes.ok;
    }),
  );

  keys
    .command('generate')
    .description('print a random secret suitable for VIGIL_ADMIN_KEY (stores nothing)')
    .action(() => {
      print(generateKeySecret());
    });
}
