#!/usr/bin/env bash
# The developer entry point: `./dev.sh demo` starts the platform with demo data on embedded
# defaults; `./dev.sh test` runs the whole test suite (ruff, then pytest). Either one first
# installs what it needs: a virtual environment with the package, and for the tests Debian's
# Chromium and STILTS (taplint), npm's configurable-http-proxy for the JupyterHub tests, and
# a Docker engine for the 2dfdr-docker tests (Debian's docker.io: when no daemon answers, the
# tests start their own, on a private socket and data folder, and stop it at the end).
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

docker_answers() { "$VENV/bin/python" -c "import docker; docker.from_env(timeout=5).ping()" 2>/dev/null; }

DOCKERD_PID=""
DOCKERD_DIR=""
ensure_docker() {
  command -v dockerd >/dev/null || apt_install docker.io
  [ -x /bin/busybox ] || apt_install busybox-static  # the shell of the local test image
  docker_answers && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "no Docker daemon answers (DOCKER_HOST or /var/run/docker.sock) and only root can start one" >&2
    return 1
  fi
  # a daemon of the tests' own: no bridge or iptables rules (containers run without network)
  DOCKERD_DIR=$(mktemp -d /tmp/hectornb-dockerd.XXXXXX)
  dockerd --iptables=false --bridge=none --host "unix://$DOCKERD_DIR/docker.sock" \
    --data-root "$DOCKERD_DIR/root" --exec-root "$DOCKERD_DIR/exec" \
    --pidfile "$DOCKERD_DIR/dockerd.pid" >"$DOCKERD_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$DOCKERD_DIR/docker.sock"
  for _ in $(seq 60); do docker_answers && return 0; sleep 0.5; done
  echo "dockerd did not start; its log:" >&2; tail -20 "$DOCKERD_DIR/dockerd.log" >&2
  return 1
}

stop_docker() {  # only the daemon this script started
  [ -n "$DOCKERD_PID" ] || return 0
  kill "$DOCKERD_PID" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$DOCKERD_PID" 2>/dev/null || true
  rm -rf "$DOCKERD_DIR" 2>/dev/null || true
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
    trap stop_docker EXIT
    ensure_docker
    "$VENV/bin/pytest" "$@"
    ;;
  dockerd)  # a Docker daemon for running single tests or benchmarks by hand
    ensure_venv
    trap stop_docker EXIT
    ensure_docker
    echo "export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}"
    [ -z "$DOCKERD_PID" ] || { echo "(dockerd $DOCKERD_PID runs until this stops: Ctrl-C)" >&2; wait "$DOCKERD_PID"; }
    ;;
  *)
    echo "usage: ./dev.sh demo [--port N] [--no-browser] | ./dev.sh test [pytest args] | ./dev.sh dockerd" >&2
    exit 2
    ;;
esac
