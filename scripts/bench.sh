#!/usr/bin/env bash
# `npm run bench`: the services, then every benchmark (or those matching the arguments).
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$VIGIL_ROOT"
bash scripts/services.sh up
# shellcheck source=scripts/services.env
source scripts/services.env
exec node --disable-warning=ExperimentalWarning bench/run.ts "$@"
