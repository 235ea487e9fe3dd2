#!/usr/bin/env bash
# Runs a command with the project's toolchain, installing what is missing first:
#   - Node.js 22 (from the npm registry, package `node`, into .tools/) when the machine's node is older;
#   - npm packages (npm ci) when package-lock.json changed since the last install;
#   - the Python 3.11 venv (.venv) when a requirements file changed.
# Each step is skipped when its stamp matches, so an already set-up checkout starts in well under a second.
#
# Usage: bash scripts/env.sh COMMAND [ARGS...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# `npm run pulumi` needs the Pulumi CLI, which no package here provides: say how to get it instead of a bare
# "exec: pulumi: not found" (after installing nothing). 127 is the shell's own "command not found".
if [ "${1:-}" = pulumi ] && ! command -v pulumi >/dev/null 2>&1; then
  log "error: the Pulumi CLI is not on PATH: install it with 'curl -fsSL https://get.pulumi.com | sh' (then open a new shell) or 'brew install pulumi/tap/pulumi' (https://www.pulumi.com/docs/iac/download-install/)"
  exit 127
fi

# One installer at a time: parallel runs (test suites, editors, terminals) would otherwise race in node_modules.
mkdir -p .tools
exec 9>.tools/setup.lock
flock 9

NODE_VERSION="$(tr -d '[:space:]' < .nvmrc)"
NODE_MAJOR="${NODE_VERSION%%.*}"

# --- Node.js -------------------------------------------------------------------------------
current_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$current_major" -lt "$NODE_MAJOR" ]; then
  local_node=".tools/node$NODE_MAJOR/node_modules/node/bin/node"
  if [ ! -x "$local_node" ] || [ "$("$local_node" --version)" != "v$NODE_VERSION" ]; then
    log "node $(node --version 2>/dev/null || echo missing) is older than $NODE_MAJOR: installing Node $NODE_VERSION from the npm registry into .tools/"
    mkdir -p ".tools/node$NODE_MAJOR"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix ".tools/node$NODE_MAJOR" "node@$NODE_VERSION" >&2
  fi
  export PATH="$ROOT/.tools/node$NODE_MAJOR/node_modules/node/bin:$PATH"
fi

# --- npm packages --------------------------------------------------------------------------
npm_stamp="$(hash_of package-lock.json .nvmrc)"
if [ ! -f node_modules/.setup-stamp ] || [ "$(cat node_modules/.setup-stamp)" != "$npm_stamp" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$npm_stamp" > node_modules/.setup-stamp
fi

# --- Python venv ---------------------------------------------------------------------------
py_stamp="$(hash_of requirements-dev.txt training/requirements.txt scoring/requirements.txt)"
if [ ! -f .venv/.setup-stamp ] || [ "$(cat .venv/.setup-stamp)" != "$py_stamp" ]; then
  PY=""
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ]; then
      PY="$candidate"
      break
    fi
  done
  if [ -z "$PY" ]; then
    log "error: Python 3.11 is required for training/ and scoring/ (found: $(python3 --version 2>&1 || echo none)); install it, then run npm run setup again:"
    # What installs a python3.11 on this machine's PATH, with the venv module (Debian and Ubuntu ship it apart).
    found=""
    if command -v uv >/dev/null 2>&1; then
      log "  uv python install 3.11        (puts python3.11 in $(uv python dir --bin 2>/dev/null || echo '~/.local/bin'); that folder must be on PATH)"
      found=1
    fi
    if command -v brew >/dev/null 2>&1; then
      log "  brew install python@3.11"
      found=1
    fi
    if command -v apt-get >/dev/null 2>&1; then
      log "  sudo apt-get install python3.11 python3.11-venv        (Ubuntu 24.04 and later: add ppa:deadsnakes/ppa first)"
      found=1
    elif command -v dnf >/dev/null 2>&1; then
      log "  sudo dnf install python3.11"
      found=1
    fi
    [ -n "$found" ] || log "  Python 3.11 from https://www.python.org/downloads/ (or: curl -LsSf https://astral.sh/uv/install.sh | sh && uv python install 3.11)"
    exit 1
  fi
  log "creating the Python venv in .venv from requirements-dev.txt ($($PY --version))"
  rm -rf .venv
  # Debian and Ubuntu ship venv's pip bootstrap apart, in python3.11-venv: without it this fails half-way.
  if ! "$PY" -m venv .venv >&2; then
    rm -rf .venv
    log "error: '$PY -m venv' failed; on Debian or Ubuntu install the venv module: sudo apt-get install python3.11-venv"
    exit 1
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -r requirements-dev.txt >&2
  echo "$py_stamp" > .venv/.setup-stamp
fi

flock -u 9
exec 9>&-

export PATH="$ROOT/.venv/bin:$ROOT/node_modules/.bin:$PATH"
# TensorFlow start-up noise hides the project's own output; errors still show.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PYTHONDONTWRITEBYTECODE=1

exec "$@"
