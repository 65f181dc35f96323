#!/usr/bin/env bash
# The developer entry point: `./dev.sh demo` starts the platform with demo data on embedded
# defaults; `./dev.sh test` runs the whole test suite (ruff, then pytest). Either one first
# installs what it needs: a virtual environment with the package, and for the tests Debian's
# Chromium and STILTS (taplint), and npm's configurable-http-proxy for the JupyterHub tests.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root for: $*" >&2; return 1; fi; }

apt_install() {  # apt_install PACKAGE... : install Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
      # Debian/Ubuntu ship venv separately
      apt_install python3-venv
      rm -rf "$VENV"; "$PYTHON" -m venv "$VENV"
    fi
  fi
  local stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[test]'
    rm -f "$VENV"/.installed-*; touch "$stamp"
  fi
}

ensure_test_tools() {
  command -v chromium >/dev/null || apt_install chromium
  command -v stilts >/dev/null || apt_install stilts  # taplint, the IVOA TAP validator
  command -v npm >/dev/null || apt_install nodejs npm
  # the data-centre tests run JupyterHub with Debian's Python, which every Unix user can read
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import ensurepip" 2>/dev/null || apt_install python3 python3-venv
  if [ ! -x tests/support/proxy/node_modules/.bin/configurable-http-proxy ]; then
    (cd tests/support/proxy && npm ci --silent --no-audit --no-fund)
  fi
}

case "${1:-}" in
  demo)
    ensure_venv
    shift
    exec "$VENV/bin/hectornb" serve --demo "$@"
    ;;
  test)
    ensure_venv
    ensure_test_tools
    shift
    "$VENV/bin/ruff" check hectornb tests benchmarks tools
    "$VENV/bin/ruff" format --check hectornb tests benchmarks tools
    exec "$VENV/bin/pytest" "$@"
    ;;
  *)
    echo "usage: ./dev.sh demo [--port N] [--no-browser] | ./dev.sh test [pytest args]" >&2
    exit 2
    ;;
esac
