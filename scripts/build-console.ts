/*
 * Builds the web console (console/src) into console/dist: one JavaScript bundle and one
 * stylesheet, both named by their content hash, and index.html pointing at them. Run by
 * scripts/env.sh when dist is missing or older than its sources (vigil_ensure_console),
 * so `./vigil start` and `scripts/test.sh` serve a current console on a fresh clone.
 * Nothing is fetched at build or run time: every asset comes from node_modules.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'console');
const dist = join(root, 'dist');

function hashed(name: string, ext: string, content: Uint8Array): string {
  return `${name}-${createHash('sha256').update(content).digest('hex').slice(0, 12)}.${ext}`;
}

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
  const result = await build({
    entryPoints: [join(root, 'src', 'main.tsx')],
    bundle: true,
    write: false,
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: dist,
    loader: { '.css': 'css' },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    plugins: [plainSchemaText],
  });
  await rm(dist, { recursive: true, force: true });
  await mkdir(join(dist, 'assets'), { recursive: true });
  const names: Record<string, string> = {};
  for (const file of result.outputFiles) {
    const ext = file.path.endsWith('.css') ? 'css' : 'js';
    const name = hashed('console', ext, file.contents);
    names[ext] = name;
    await writeFile(join(dist, 'assets', name), file.contents);
  }
  const template = await readFile(join(root, 'index.html'), 'utf8');
  const html = template.replace('%CONSOLE_CSS%', `/assets/${names['css'] ?? ''}`).replace('%CONSOLE_JS%', `/assets/${names['js'] ?? ''}`);
  await writeFile(join(dist, 'index.html'), html);
  const sizes = result.outputFiles.map((file) => `${file.path.endsWith('.css') ? 'css' : 'js'} ${(file.contents.length / 1024).toFixed(0)} KiB`);
  console.error(`[console] built console/dist in ${Date.now() - started} ms (${sizes.join(', ')})`);
}

await main();
