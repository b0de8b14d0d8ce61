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
# The real-tool integration tests (test/integrations/) need Airflow and dbt from PyPI: cached
# virtual environments under .python/, built once per requirements file (minutes cold, none warm).
# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh
echo "[test] python environments"; vigil_python_env airflow >/dev/null; vigil_python_env dbt >/dev/null; vigil_python_env prefect >/dev/null
echo "[test] node $(node --version)"
echo "[test] typecheck"; npx tsc --noEmit -p .
echo "[test] lint"; npm run --silent lint  # eslint, then the import rules (.dependency-cruiser.cjs)
echo "[test] tests"
node --test --test-concurrency=1 --test-timeout=300000 --disable-warning=ExperimentalWarning "$@" \
  "schemas/**/*.test.ts" "ingest/**/*.test.ts" "triggers/**/*.test.ts" "actions/**/*.test.ts" \
  "api/**/*.test.ts" "history/**/*.test.ts" "platform/**/*.test.ts" "cli/**/*.test.ts" "sdk/**/*.test.ts" "test/**/*.test.ts"
