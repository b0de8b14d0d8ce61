/**
 * The `vigil` entry point. Server commands that open the embedded store re-run this process
 * with the V8 flags that keep PGlite's memory low (platform/embedded/node-flags.ts) — they must
 * be on the command line, so this happens before anything heavy is imported. Then the CLI.
 */
import { restartWithEmbeddedNodeFlags } from '../platform/embedded/node-flags.ts';

const serverCommands = new Set(['start', 'migrate', 'keys']);
if (serverCommands.has(process.argv[2] ?? '')) restartWithEmbeddedNodeFlags();
await import('./program.ts');
