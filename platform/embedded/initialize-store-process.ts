// Runs PGlite's initdb for a new embedded store in a short-lived child process: initdb needs a
// second PostgreSQL instance (~300–400 MB, up to 1.1 GB peak) that would otherwise stay
// resident in the Vigil process; a process that exits hands all of it back.
// Usage: node initialize-store-process.ts <dataDir> <startParams JSON|""> [initdb args JSON]
import { PGlite } from '@electric-sql/pglite';

const [dataDir, params, initdbArgs] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: initialize-store-process.ts <dataDir> [startParams JSON] [initdb args JSON]');
const startParams = params === undefined || params === '' ? undefined : (JSON.parse(params) as string[]);
const initDbStartParams = initdbArgs === undefined || initdbArgs === '' ? undefined : (JSON.parse(initdbArgs) as string[]);
const pglite = await PGlite.create({
  dataDir,
  ...(startParams === undefined ? {} : { startParams }),
  ...(initDbStartParams === undefined ? {} : { initDbStartParams }),
});
await pglite.close();
