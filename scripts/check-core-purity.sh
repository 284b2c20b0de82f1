#!/usr/bin/env bash
# zatca-core must stay portable: its normal dependency tree for wasm32 must not contain wasm-bindgen
# (bindings belong in a separate crate). Extra args go to cargo tree (e.g. --locked, --offline).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
TARGET=wasm32-unknown-unknown

if ! tree=$(cargo tree -p zatca-core -e normal --target "$TARGET" --prefix none "$@"); then
    echo "check-core-purity: ERROR: cargo tree -p zatca-core failed" >&2
    exit 2
fi
if bad=$(printf '%s\n' "$tree" | grep 'wasm-bindgen' | sort -u) && [ -n "$bad" ]; then
    echo "check-core-purity: FAIL: zatca-core's normal dependencies for $TARGET contain wasm-bindgen:" >&2
    printf '%s\n' "$bad" | sed 's/^/    /' >&2
    echo "  who pulls it in:" >&2
    cargo tree -p zatca-core -e normal --target "$TARGET" -i wasm-bindgen "$@" 2>&1 | sed 's/^/    /' >&2 || true
    exit 1
fi
echo "check-core-purity: ok: zatca-core has no wasm-bindgen in its $TARGET normal dependencies ($(printf '%s\n' "$tree" | sed 's/ (\*)$//' | sort -u | wc -l) crates)"
