#!/usr/bin/env bash
# Install everything Sentinel needs on a Debian/Ubuntu machine, then run a `just` recipe.
#   bash infra/bootstrap.sh up      # install, start the local stack
#   bash infra/bootstrap.sh check   # install, lint, type-check and run the tests
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v npm >/dev/null || need_apt+=(npm)              # installs node and bun for the dashboard
command -v valgrind >/dev/null || need_apt+=(valgrind)    # `sentinel bench stage --callgrind`
[ -x /usr/bin/chromium ] || need_apt+=(chromium)         # the browser tests (Playwright, system Chromium)
if ((${#need_apt[@]})); then
  echo "installing system packages: ${need_apt[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11+ is required (found $("$python" --version))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "installing Python packages into .venv (a few minutes the first time; see the README)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*; touch "$stamp"
fi
# Node and bun for the dashboard's frontend build, as npm packages (tools/js/package.json + lock).
js_stamp=.tools/js/.installed-$(cat tools/js/package.json tools/js/package-lock.json | sha256sum | cut -c1-16)
if [ ! -f "$js_stamp" ]; then
  echo "installing node and bun into .tools/js (npm registry)"
  rm -rf .tools/js && mkdir -p .tools/js && cp tools/js/package.json tools/js/package-lock.json .tools/js/
  npm ci --prefix .tools/js --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$js_stamp"
fi
exec .venv/bin/just "$@"
