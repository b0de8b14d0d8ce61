#!/usr/bin/env bash
# The whole test suite on a fresh machine: Node.js 24, dependencies, PostgreSQL, Redis and
# Kafka (started by scripts/services.sh where they are not running), then typecheck, lint and
# every test against the real services.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$VIGIL_ROOT"
bash scripts/services.sh up
# The console's browser tests drive Debian's Chromium (playwright-core, no browser download).
if [ ! -x /usr/bin/chromium ] && [ -z "${VIGIL_CHROMIUM:-}" ]; then
  echo "[test] installing Debian's chromium for the console's browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# shellcheck source=scripts/services.env
source scripts/services.env
# The real-tool integration tests (test/integrations/) need Airflow and dbt from PyPI: cached
# virtual environments under .python/, built once per requirements file (minutes cold, none warm).
# shellcheck source=scripts/python-env.sh
source scripts/python-env.sh
echo "[test] python environments"; vigil_python_env airflow >/dev/null; vigil_python_env dbt >/dev/null
# Prefect's integration tests (test/prefect/) start the real server from this environment.
VIGIL_PREFECT_VENV=$(vigil_python_env prefect)
export VIGIL_PREFECT_VENV
echo "[test] node $(node --version)"
echo "[test] typecheck"; npx tsc --noEmit -p . && npx tsc --noEmit -p console
echo "[test] lint"; npm run --silent lint  # eslint, then the import rules (.dependency-cruiser.cjs)
# The fuzz runs before the node tests so that their summary is the suite's closing line.
echo "[test] API fuzz (schemathesis against /openapi.json)"
bash scripts/api-fuzz.sh
echo "[test] tests"
node --test --test-concurrency=1 --test-timeout=300000 --disable-warning=ExperimentalWarning "$@" \
  "schemas/**/*.test.ts" "ingest/**/*.test.ts" "triggers/**/*.test.ts" "actions/**/*.test.ts" \
  "api/**/*.test.ts" "history/**/*.test.ts" "platform/**/*.test.ts" "cli/**/*.test.ts" "sdk/**/*.test.ts" "test/**/*.test.ts"
