/**
 * `npm run bench`: runs every benchmark (or those whose path contains an argument), prints
 * their figures and writes them to bench/results/latest.json. Figures go to docs/benchmarks.md
 * by hand, with the date and the machine. Needs the services of scripts/services.sh.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';

type Figures = Record<string, number | string>;
const benchDir = import.meta.dirname;

async function benchFiles(): Promise<string[]> {
  const found: string[] = [];
  for (const folder of (await readdir(benchDir, { withFileTypes: true })).filter((entry) => entry.isDirectory() && entry.name !== 'results')) {
    for (const file of await readdir(join(benchDir, folder.name))) {
      if (file.endsWith('.bench.ts')) found.push(join(benchDir, folder.name, file));
    }
  }
  return found.sort();
}

const filters = process.argv.slice(2);
const files = (await benchFiles()).filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
console.log(`Vigil benchmarks — ${new Date().toISOString()} — ${machine}\n`);

const results: Record<string, Figures> = {};
for (const file of files) {
  const name = relative(benchDir, file);
  console.log(`▶ ${name}`);
  const module = (await import(file)) as { run(): Promise<Figures> };
  const figures = await module.run();
  results[name] = figures;
  for (const [key, value] of Object.entries(figures)) console.log(`  ${key.padEnd(48)} ${typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: 2 }) : value}`);
  console.log('');
}
await mkdir(join(benchDir, 'results'), { recursive: true });
await writeFile(join(benchDir, 'results', 'latest.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2)}\n`);
process.exit(0);
