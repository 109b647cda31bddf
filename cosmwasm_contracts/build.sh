#!/usr/bin/env bash
# Build the optimized task_hub wasm and check it, by the route that works without rustup targets:
# Debian's rustc-web builds std for wasm32 itself (-Zbuild-std), as MVP wasm (no reference-types or
# bulk-memory), then binaryen's wasm-opt shrinks it and cosmwasm-check validates it for the VM.
# The result is cached by a hash of the sources, so a fresh clone reuses it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/fedchain"
CHECK_VERSION="3.0.10"  # the cosmwasm-vm 3.0 line, as in wasmd v0.70 (wasmvm v3); 2.x no longer links on Rust 1.9x
CHECK_ROOT="$CACHE/tools/cosmwasm-check-$CHECK_VERSION"
ARTIFACTS="$HERE/artifacts"
say() { printf '[contracts] %s\n' "$*"; }

for tool in /usr/bin/rustc /usr/bin/cargo wasm-ld-19 wasm-opt; do
  command -v "$tool" >/dev/null || {
    echo "[contracts] error: $tool is missing: apt-get install -y rustc-web cargo-web rust-web-src lld-19 binaryen" >&2
    exit 1
  }
done

KEY="$(cd "$HERE" && find . \( -path ./target -o -path ./artifacts \) -prune -o -type f \( -name '*.rs' -o -name 'Cargo.toml' -o -name 'Cargo.lock' \) -print \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
CACHED="$CACHE/wasm/task_hub-$KEY.wasm"
mkdir -p "$ARTIFACTS" "$CACHE/wasm"

if [ -f "$CACHED" ]; then
  say "task_hub wasm cached ($KEY)"
else
  say "building task_hub wasm (the first build compiles std for wasm32: a few minutes)…"
  start=$SECONDS
  (cd "$HERE" && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    RUSTFLAGS="-C target-cpu=mvp -C linker=wasm-ld-19 -C link-arg=-s -C link-arg=--allow-undefined" \
    CARGO_TARGET_DIR="$CACHE/cargo-target-wasm" \
    /usr/bin/cargo build --locked --release --lib -p task_hub -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown)
  wasm-opt -Os --mvp-features "$CACHE/cargo-target-wasm/wasm32-unknown-unknown/release/task_hub.wasm" -o "$CACHED.tmp"
  if [ ! -x "$CHECK_ROOT/bin/cosmwasm-check" ]; then
    say "installing cosmwasm-check $CHECK_VERSION (once)…"
    cargo install --locked --quiet --root "$CHECK_ROOT" cosmwasm-check --version "$CHECK_VERSION"
  fi
  "$CHECK_ROOT/bin/cosmwasm-check" "$CACHED.tmp"
  mv "$CACHED.tmp" "$CACHED"
  say "built in $((SECONDS - start))s"
fi
cp "$CACHED" "$ARTIFACTS/task_hub.wasm"
(cd "$ARTIFACTS" && sha256sum task_hub.wasm > checksums.txt)
say "$ARTIFACTS/task_hub.wasm ($(stat -c %s "$ARTIFACTS/task_hub.wasm") bytes, sha256 $(cut -c1-16 "$ARTIFACTS/checksums.txt")…)"
