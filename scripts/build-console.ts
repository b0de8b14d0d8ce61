/*
 * Builds the web console (console/src) into console/dist: the JavaScript entry, its lazily
 * loaded chunks and one stylesheet, all named by their content hash, and index.html pointing
 * at the entry. Run by
 * scripts/env.sh when dist is missing or older than its sources (vigil_ensure_console),
 * so `./vigil start` and `scripts/test.sh` serve a current console on a fresh clone.
 * Nothing is fetched at build or run time: every asset comes from node_modules.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');
const dist = join(root, 'dist');

/** codemirror-json-schema renders descriptions with markdown-it + shiki; the console uses plain text (console/src/schema-text.ts). */
const plainSchemaText: Plugin = {
  name: 'plain-schema-text',
  setup(on) {
    on.onResolve({ filter: /\/utils\/markdown$/ }, (args) =>
      args.importer.includes(`${'node_modules'}/codemirror-json-schema/`) ? { path: join(root, 'src', 'schema-text.ts') } : undefined,
    );
  },
};

async function main(): Promise<void> {
  const started = Date.now();
  await rm(dist, { recursive: true, force: true });
  await mkdir(join(dist, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: [join(root, 'src', 'main.tsx')],
    bundle: true,
    // The editor (CodeMirror and the schema tooling, most of the bytes) is a chunk of its own,
    // loaded when an automation page opens, so the Now page starts without it.
    splitting: true,
    format: 'esm',
    outdir: join(dist, 'assets'),
    entryNames: 'console-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: 'asset-[hash]',
    metafile: true,
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    plugins: [plainSchemaText],
  });
  const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint !== undefined);
  if (!entry) throw new Error('esbuild produced no entry bundle');
  const [script, output] = entry;
  const stylesheet = output.cssBundle;
  const url = (path: string) => `/assets/${basename(path)}`;
  const template = await readFile(join(root, 'index.html'), 'utf8');
  const html = template.replace('%CONSOLE_CSS%', stylesheet ? url(stylesheet) : '').replace('%CONSOLE_JS%', url(script));
  await writeFile(join(dist, 'index.html'), html);
  // Compressed once here, served as they are to browsers that accept them (api/console-routes.ts).
  for (const file of await readdir(join(dist, 'assets'))) {
    const content = await readFile(join(dist, 'assets', file));
    await writeFile(join(dist, 'assets', `${file}.br`), brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
    await writeFile(join(dist, 'assets', `${file}.gz`), gzipSync(content, { level: 9 }));
  }
  const files = Object.entries(result.metafile.outputs).map(([path, out]) => `${basename(path)} ${(out.bytes / 1024).toFixed(0)} KiB`);
  console.error(`[console] built console/dist in ${Date.now() - started} ms (${files.join(', ')})`);
}

await main();
