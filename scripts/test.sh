#!/usr/bin/env bash
# The whole test suite on a fresh machine: Node.js 24, dependencies, PostgreSQL, Redis and
# Kafka (started by scripts/services.sh where they are not running), then typecheck, lint and
# every test against the real services.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$VIGIL_ROOT"
bash scripts/services.sh up
# shellcheck source=scripts/services.env
source scripts/services.env
echo "[test] node $(node --version)"
# The pinned Python tools the integration tests run for real (cached under .python/).
# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh
VIGIL_PREFECT_VENV=$(vigil_python_env prefect)
export VIGIL_PREFECT_VENV
echo "[test] typecheck"; npx tsc --noEmit -p .
echo "[test] lint"; npm run --silent lint  # eslint, then the import rules (.dependency-cruiser.cjs)
echo "[test] tests"
node --test --test-concurrency=1 --test-timeout=300000 --disable-warning=ExperimentalWarning "$@" \
  "schemas/**/*.test.ts" "ingest/**/*.test.ts" "triggers/**/*.test.ts" "actions/**/*.test.ts" \
  "api/**/*.test.ts" "history/**/*.test.ts" "platform/**/*.test.ts" "cli/**/*.test.ts" "sdk/**/*.test.ts" "test/**/*.test.ts"
