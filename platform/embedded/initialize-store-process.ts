// Runs PGlite's initdb for a new embedded store in a short-lived child process: initdb needs a
// second PostgreSQL instance (~300–400 MB) that would otherwise stay resident in the Vigil
// process; a process that exits hands all of it back. Usage: node initialize-store-process.ts <dataDir> <startParams JSON|"">
import { PGlite } from '@electric-sql/pglite';

const [dataDir, params] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: initialize-store-process.ts <dataDir> [startParams JSON]');
const startParams = params === undefined || params === '' ? undefined : (JSON.parse(params) as string[]);
const pglite = await PGlite.create({ dataDir, ...(startParams === undefined ? {} : { startParams }) });
await pglite.close();
