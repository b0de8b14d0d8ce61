import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Creating a new embedded store directory (docs/decisions/0300).
 *
 * PGlite's initdb takes 2.5–5 s on the 2-core machine (10 s and more when it is loaded) and
 * peaks at 0.6–1.1 GB resident memory, which alone breaks the "ready ≤ 3 s" target of a first
 * `vigil start`. initdb's output depends only on the PGlite build and its arguments, so it is
 * run once, at install time (`prepare-store-template.ts`, the package's postinstall step), into
 * a template directory under `node_modules/.cache/`; a new store is a copy of it (~0.1 s).
 * Without a template (installed with --ignore-scripts, read-only cache, PGlite upgraded
 * without reinstalling) a new store falls back to initdb in a child process: slower, same result.
 *
 * Either way the new directory is built beside the target (`<dataDir>.creating-<pid>`) and
 * renamed into place when complete, so an interrupted creation never leaves a half-made store
 * that a later start would take for a real one.
 */

/**
 * Extra initdb arguments for a new store, part of the template's identity (both paths must give
 * the same directory). None: `-c shared_buffers=16MB -c wal_buffers=1MB` made no measurable
 * difference to initdb's time or memory (docs/decisions/0300), and Vigil passes its settings on
 * the command line at every start anyway.
 */
const embeddedInitdbArgs: readonly string[] = [];

/**
 * Node.js flags of the initdb child process: Liftoff-only WebAssembly lowers its peak resident
 * memory from ~1.07 GB to 0.6–0.7 GB and is no slower (TurboFan tier-up of PostgreSQL's big
 * functions is what peaks; docs/decisions/0300).
 */
const initdbNodeFlags: readonly string[] = ['--liftoff-only', '--max-semi-space-size=16'];

/** Bumped when the template's layout or contents change for a reason other than PGlite or the initdb arguments. */
const templateFormat = 1;
const templateCacheName = 'vigil-pglite-template';

const require = createRequire(import.meta.url);

/** Where PGlite is installed: `<…>/node_modules/@electric-sql/pglite`. */
function pgliteInstallDir(): string {
  const entry = require.resolve('@electric-sql/pglite');
  const marker = `${sep}node_modules${sep}`;
  const at = entry.lastIndexOf(marker);
  if (at < 0) throw new Error(`@electric-sql/pglite resolved outside node_modules (${entry})`);
  return join(entry.slice(0, at + marker.length), '@electric-sql', 'pglite');
}

async function pgliteVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(pgliteInstallDir(), 'package.json'), 'utf8')) as { version?: string };
  if (typeof manifest.version !== 'string') throw new Error('@electric-sql/pglite has no version in its package.json');
  return manifest.version;
}

export interface StoreTemplateLocation {
  /** The template's directory: `<node_modules>/.cache/vigil-pglite-template/pglite-<version>-<hash>`. */
  readonly dir: string;
  /** The PostgreSQL data directory inside it, the one that is copied. */
  readonly dataDir: string;
  readonly pgliteVersion: string;
}

/**
 * The template for the installed PGlite and {@link embeddedInitdbArgs}, whether it exists or not.
 * A template of another PGlite version or other arguments has another directory and is never used.
 */
export async function storeTemplateLocation(initdbArgs: readonly string[] = embeddedInitdbArgs): Promise<StoreTemplateLocation> {
  const version = await pgliteVersion();
  const key = createHash('sha256')
    .update(JSON.stringify({ templateFormat, pglite: version, initdbArgs }))
    .digest('hex')
    .slice(0, 12);
  const nodeModules = dirname(dirname(pgliteInstallDir()));
  const dir = join(nodeModules, '.cache', templateCacheName, `pglite-${version}-${key}`);
  return { dir, dataDir: join(dir, 'data'), pgliteVersion: version };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** True while a process with this pid exists (also when it belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Copies a directory tree, files in parallel (a store is ~1,000 small files: one at a time,
 * as `fs.cp` does, takes 0.4–0.8 s; 16 at a time 0.05–0.1 s). Copy-on-write clones where the
 * filesystem supports them.
 */
async function copyDirectory(from: string, to: string, parallel = 16): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true, recursive: true });
  await mkdir(to, { recursive: true });
  const directories = entries.filter((entry) => entry.isDirectory()).map((entry) => join(to, relative(from, join(entry.parentPath, entry.name))));
  // Parents sort before their children.
  for (const directory of directories.sort()) await mkdir(directory, { recursive: true });
  const files = entries.filter((entry) => !entry.isDirectory()).map((entry) => relative(from, join(entry.parentPath, entry.name)));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, files.length) }, async () => {
      while (next < files.length) {
        const file = files[next++]!;
        await copyFile(join(from, file), join(to, file), constants.COPYFILE_FICLONE);
      }
    }),
  );
}

/** Runs initdb for a new store in a child process; see initialize-store-process.ts. */
async function runInitdb(dataDir: string, startParams: readonly string[] | undefined, initdbArgs: readonly string[] = embeddedInitdbArgs): Promise<void> {
  const script = fileURLToPath(new URL('./initialize-store-process.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [...initdbNodeFlags, '--disable-warning=ExperimentalWarning', script, dataDir, startParams === undefined ? '' : JSON.stringify(startParams), JSON.stringify(initdbArgs)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', resolvePromise);
  });
  if (code !== 0) throw new Error(`initializing the embedded store in ${dataDir} failed (exit code ${code}): ${stderr.trim()}`);
}

export type StoreSource = 'template' | 'initdb';

export interface CreateStoreOptions {
  /** startParams of the PGlite instance that initdb's fallback path starts once (the tuned settings). */
  readonly startParams?: readonly string[] | undefined;
  /** A template data directory to copy, `false` for none (always initdb); default: the installed template, if present. */
  readonly template?: string | false | undefined;
}

/**
 * Creates the store directory `dataDir`, which must not exist or be empty: a copy of the
 * template when there is one, else initdb. The caller holds the store's lock.
 */
export async function createStoreDirectory(dataDir: string, options: CreateStoreOptions = {}): Promise<StoreSource> {
  const parent = dirname(dataDir);
  const staging = `${dataDir}.creating-${process.pid}`;
  const present = await readdir(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (present.length > 0) {
    throw new Error(`${dataDir} is not empty but holds no embedded store (no PG_VERSION): move it away to create a new store there`);
  }
  await mkdir(parent, { recursive: true });
  // Left behind by an interrupted creation (the lock says nobody else is creating this store).
  const prefix = `${basename(dataDir)}.creating-`;
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(prefix)) await rm(join(parent, entry), { recursive: true, force: true });
  }

  let templateDataDir: string | undefined;
  if (options.template === undefined) {
    const location = await storeTemplateLocation().catch(() => undefined);
    if (location !== undefined && (await exists(join(location.dataDir, 'PG_VERSION')))) templateDataDir = location.dataDir;
  } else if (options.template !== false) {
    templateDataDir = options.template;
  }

  let source: StoreSource | undefined;
  if (templateDataDir !== undefined) {
    try {
      await copyDirectory(templateDataDir, staging);
      if (!(await exists(join(staging, 'PG_VERSION')))) throw new Error(`the template ${templateDataDir} has no PG_VERSION`);
      source = 'template';
    } catch {
      // A damaged or unreadable template: initdb makes the same store, only slower.
      await rm(staging, { recursive: true, force: true });
    }
  }
  if (source === undefined) {
    try {
      await runInitdb(staging, options.startParams);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
    source = 'initdb';
  }

  try {
    // An empty directory (checked above) would make the rename fail.
    await rmdir(dataDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, dataDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return source;
}

export interface PreparedTemplate extends StoreTemplateLocation {
  /** False when a complete template was already there. */
  readonly created: boolean;
}

/**
 * Creates the store template for the installed PGlite (initdb in a child process, into a
 * temporary directory renamed into place when complete), unless it exists. Removes templates of
 * other PGlite versions or arguments, and temporary directories of dead processes.
 * `startParams`: those of the PGlite instance the child starts once after initdb (they do not
 * change the template's files).
 */
export async function prepareStoreTemplate(startParams?: readonly string[]): Promise<PreparedTemplate> {
  const location = await storeTemplateLocation();
  const cacheDir = dirname(location.dir);
  await mkdir(cacheDir, { recursive: true });
  for (const entry of await readdir(cacheDir)) {
    const path = join(cacheDir, entry);
    if (path === location.dir) continue;
    const temporary = /^\.tmp-(\d+)-/.exec(entry);
    if (temporary === null || !isAlive(Number(temporary[1]))) await rm(path, { recursive: true, force: true });
  }
  if (await exists(join(location.dataDir, 'PG_VERSION'))) return { ...location, created: false };

  const temporary = join(cacheDir, `.tmp-${process.pid}-${Date.now()}`);
  try {
    await mkdir(temporary);
    await runInitdb(join(temporary, 'data'), startParams);
    await writeFile(
      join(temporary, 'template.json'),
      `${JSON.stringify({ pglite: location.pgliteVersion, initdbArgs: embeddedInitdbArgs, templateFormat, createdAt: new Date().toISOString() }, null, 2)}\n`,
    );
    await rename(temporary, location.dir).catch(async (error: unknown) => {
      // Another install made it meanwhile: theirs is as good as ours.
      if (!(await exists(join(location.dataDir, 'PG_VERSION')))) throw error;
    });
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
  return { ...location, created: true };
}
