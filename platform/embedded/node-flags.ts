import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Node.js (V8) flags for a process that runs the embedded store (docs/decisions/0300):
 *
 * - `--liftoff-only`: PGlite's WebAssembly stays on V8's baseline compiler. TurboFan's tier-up
 *   of PostgreSQL's big functions peaks at 750–830 MB resident memory (start-up migrations,
 *   ingest) and leaves ~100 MB more behind; with it a `vigil start` stays at 230–310 MB. It
 *   costs up to ~30 % of embedded ingest throughput, and must not be used in distributed mode,
 *   where the Kafka client's WebAssembly (CRC32C) is on the hot path (80k → 32k events/s).
 * - `--max-semi-space-size=16`: V8 grows the young generation to 2 × 64 MB on this machine; 16 MB
 *   semi-spaces cost nothing measurable, in either mode.
 * - `--heap-growing-percent=30`: the old generation grows to ~1.3 × the live data before a full
 *   collection instead of filling up with garbage (RSS +100–150 MB under ingest). Costs ~20 % of
 *   distributed batched ingest, so embedded mode only as well.
 *
 * None of them can be set from inside the process (V8 reads them at start-up), nor through
 * NODE_OPTIONS (not allowed there); the `vigil` launcher passes them.
 */
export const embeddedNodeFlags: readonly string[] = ['--liftoff-only', '--max-semi-space-size=16', '--heap-growing-percent=30'];

const serviceVariables = ['DATABASE_URL', 'KAFKA_BROKERS', 'REDIS_URL'] as const;

/**
 * Whether the configuration selects embedded mode, decided as platform/config.ts does (no
 * service URL set, in the environment or in `.env` of the working directory) but without
 * loading it, so that it can run before anything else.
 */
export function embeddedModeConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  return serviceVariables.every((name) => (env[name] ?? fromFile[name] ?? '').trim() === '');
}

/**
 * Replaces this process (same pid, `process.execve`) with one started with
 * {@link embeddedNodeFlags} when it runs the embedded store without them; returns otherwise.
 * For the CLI's entry point, before it imports anything heavy.
 */
export function restartWithEmbeddedNodeFlags(): void {
  if (typeof process.execve !== 'function' || process.platform === 'win32') return;
  const missing = embeddedNodeFlags.filter((flag) => !process.execArgv.includes(flag));
  if (missing.length === 0 || !embeddedModeConfigured()) return;
  process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
}
