#!/usr/bin/env bash
# Build for wasm32-unknown-unknown with the toolchain from scripts/wasm-toolchain.sh.
#
# Usage: scripts/wasm-build.sh [cargo build args...]    e.g. scripts/wasm-build.sh -p zatca-core --release
#
# Sources "$ZATCA_CACHE/wasm-env.sh" (running scripts/wasm-toolchain.sh first if it is missing or
# stale) in this process only, then runs
#   cargo build --target wasm32-unknown-unknown $ZATCA_WASM_CARGO_FLAGS "$@"
# Output goes to $CARGO_TARGET_DIR/wasm32-unknown-unknown/<profile>/ (default
# ~/.cache/zatca/target-wasm; override with ZATCA_WASM_TARGET_DIR).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZATCA_CACHE=${ZATCA_CACHE:-${HOME:?HOME is not set}/.cache/zatca}
ENV_FILE=$ZATCA_CACHE/wasm-env.sh

env_ok() {
    [ -f "$ENV_FILE" ] || return 1
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    # The Debian toolchain may have been removed from the cache since the env file was written.
    [ "${ZATCA_WASM_TOOLCHAIN_KIND:-}" != debian ] || [ -x "${RUSTC:-}" ]
}
if ! env_ok; then
    "$REPO/scripts/wasm-toolchain.sh"
    # shellcheck disable=SC1090
    source "$ENV_FILE"
fi

cd "$REPO"
# ZATCA_WASM_CARGO_FLAGS is deliberately unquoted: empty on the rustup path, -Zbuild-std=... otherwise.
# shellcheck disable=SC2086
exec cargo build --target wasm32-unknown-unknown $ZATCA_WASM_CARGO_FLAGS "$@"
