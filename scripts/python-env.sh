# Sourced by the project's scripts: creates and caches the Python virtual environments that the
# integration tests and tools need (Airflow, dbt, Prefect, schemathesis, the Python SDK), each under
# the git-ignored .python/<name>/, from the pinned requirements file scripts/python/<name>.txt.
#
#   source scripts/python-env.sh
#   venv=$(vigil_python_env airflow)     # .python/airflow, installed or reused; prints its path
#   "$venv/bin/airflow" version
#
# Installs go through uv (itself pinned, installed from PyPI into .python/.uv) with the machine's
# python3 (>= 3.10; uv is told never to download an interpreter) and the machine's CA bundle. A
# virtual environment is rebuilt only when its requirements file changes (its sha256 is kept in
# the environment), and uv's download cache (~/.cache/uv) makes a rebuild on the same machine fast.
# Progress goes to stderr; only the path goes to stdout.
VIGIL_ROOT="${VIGIL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
VIGIL_UV_VERSION="0.9.30"

vigil_python_bin() {
  local candidate
  for candidate in "${VIGIL_PYTHON:-}" python3.11 python3.12 python3.13 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "[python] no python3 >= 3.10 found (set VIGIL_PYTHON)" >&2
  return 1
}

vigil_uv() {
  local dir="$VIGIL_ROOT/.python/.uv" python
  if [ ! -x "$dir/bin/uv" ] || [ "$("$dir/bin/uv" --version 2>/dev/null | awk '{print $2}')" != "$VIGIL_UV_VERSION" ]; then
    python=$(vigil_python_bin) || return 1
    echo "[python] installing uv $VIGIL_UV_VERSION into .python/.uv" >&2
    rm -rf "$dir"
    "$python" -m venv "$dir" >&2 || return 1
    "$dir/bin/pip" install --quiet --disable-pip-version-check "uv==$VIGIL_UV_VERSION" >&2 || return 1
  fi
  printf '%s\n' "$dir/bin/uv"
}

# vigil_python_env NAME: the path of .python/NAME, created or refreshed from scripts/python/NAME.txt
vigil_python_env() {
  local name=$1 requirements="$VIGIL_ROOT/scripts/python/$1.txt" venv="$VIGIL_ROOT/.python/$1"
  local wanted have uv python t0
  [ -f "$requirements" ] || { echo "[python] no requirements file $requirements" >&2; return 1; }
  wanted=$(sha256sum "$requirements" | awk '{print $1}')
  have=$(cat "$venv/.requirements.sha256" 2>/dev/null || true)
  if [ "$wanted" != "$have" ] || [ ! -x "$venv/bin/python" ]; then
    uv=$(vigil_uv) || return 1
    python=$(vigil_python_bin) || return 1
    t0=$(date +%s)
    echo "[python] creating .python/$name from scripts/python/$name.txt (cached after the first time)" >&2
    rm -rf "$venv"
    (
      export UV_PYTHON_DOWNLOADS=never UV_NATIVE_TLS=1 UV_NO_PROGRESS=1
      "$uv" venv --quiet --python "$python" "$venv" >&2 &&
        VIRTUAL_ENV="$venv" "$uv" pip install --quiet --python "$venv/bin/python" -r "$requirements" >&2
    ) || { echo "[python] installing .python/$name failed" >&2; return 1; }
    printf '%s\n' "$wanted" >"$venv/.requirements.sha256"
    echo "[python] .python/$name ready in $(($(date +%s) - t0)) s" >&2
  fi
  printf '%s\n' "$venv"
}
