# Sourced by the project's scripts: puts Node.js 24 on PATH (installing it from the npm
# registry into .tools/ when the machine's Node is older) and installs npm dependencies when
# node_modules is missing or older than package-lock.json.
# Usage: source scripts/env.sh
VIGIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VIGIL_ROOT
VIGIL_NODE_VERSION="24.21.0"

vigil_node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }

vigil_ensure_node() {
  local local_bin="$VIGIL_ROOT/.tools/node24/node_modules/.bin"
  if [ -x "$local_bin/node" ]; then
    PATH="$local_bin:$PATH"
  fi
  local major
  major="$(vigil_node_major || true)"
  if [ -z "$major" ] || [ "$major" -lt 24 ]; then
    echo "[setup] Node.js ${major:-missing} found; installing Node.js $VIGIL_NODE_VERSION from the npm registry into .tools/" >&2
    mkdir -p "$VIGIL_ROOT/.tools/node24"
    npm install --no-save --no-audit --no-fund --loglevel=error \
      --prefix "$VIGIL_ROOT/.tools/node24" "node@$VIGIL_NODE_VERSION" >&2
    PATH="$local_bin:$PATH"
    major="$(vigil_node_major || true)"
    if [ "$major" != "24" ]; then
      echo "[setup] could not install Node.js 24 (node --version says: $(node --version 2>&1))" >&2
      return 1
    fi
  fi
  export PATH
}

vigil_ensure_deps() {
  local marker="$VIGIL_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$marker" ] || [ "$VIGIL_ROOT/package-lock.json" -nt "$marker" ]; then
    echo "[setup] installing npm dependencies (npm ci)" >&2
    (cd "$VIGIL_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
}

# The web console (console/) is built into console/dist (not committed) when dist is missing or
# older than any of its sources, the published automation schema or the dependencies.
vigil_ensure_console() {
  local stamp="$VIGIL_ROOT/console/dist/index.html"
  if [ ! -f "$stamp" ] || [ -n "$(find "$VIGIL_ROOT/console/src" "$VIGIL_ROOT/console/index.html" \
      "$VIGIL_ROOT/schemas/json/automation.schema.json" "$VIGIL_ROOT/scripts/build-console.ts" \
      "$VIGIL_ROOT/package-lock.json" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    (cd "$VIGIL_ROOT" && node --disable-warning=ExperimentalWarning scripts/build-console.ts >&2)
  fi
}

vigil_ensure_node && vigil_ensure_deps && vigil_ensure_console
