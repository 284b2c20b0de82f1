#!/usr/bin/env bash
# Build the npm package's WebAssembly modules into npm/dist/ (generated, git-ignored).
#
# Usage: npm/scripts/build.sh        (or `npm run build` inside npm/)
#
# On a fresh machine this provisions everything it needs and then builds:
#   1. scripts/wasm-toolchain.sh: the wasm32-unknown-unknown target (`rustup target add`, or
#      Debian's rustc-web when rustup cannot download), wasm-bindgen-cli at exactly the version
#      pinned in Cargo.lock, and wasm-opt (binaryen), all cached under ~/.cache/zatca.
#   2. For each module, scripts/wasm-build.sh builds crate zatca-wasm with one feature and a
#      size profile (opt-level z except the curve and hash crates at 3, fat LTO, one codegen
#      unit, panic=abort; defined here with --config so the workspace's release profile, used by
#      native benches, is untouched):
#        sign  -> dist/zatca_sign{.js,.d.ts,_bg.wasm}    build, sign, hash, chain, QR decoding
#        tools -> dist/zatca_tools{.js,.d.ts,_bg.wasm}   verify, keys, CSR, QR encoding/SVG/PNG
#        pdf   -> dist/zatca_pdf{.js,.d.ts,_bg.wasm}     renderPdf (zatca-pdf, fonts included)
#        rules -> dist/zatca_rules{.js,.d.ts,_bg.wasm}   validate (zatca-rules: XSD structure, rules)
#   3. wasm-bindgen --target web (one build for browsers, bundlers and Node: the package's
#      loaders pass the bytes to `initSync` in Node), then wasm-opt -Oz --converge.
#   4. dist/sizes.json with raw and gzip -9 sizes, `npm ci` when node_modules is missing or
#      stale, and `tsc --noEmit` over the hand-written and generated declarations.
#
# Knobs: ZATCA_CACHE (~/.cache/zatca), ZATCA_NPM_WASM_TARGET_DIR (cargo target dir of these
# builds, default $ZATCA_CACHE/target-npm-wasm), ZATCA_NPM_SKIP_TSC=1.
set -euo pipefail

NPM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=$(cd "$NPM_DIR/.." && pwd)
ZATCA_CACHE=${ZATCA_CACHE:-${HOME:?HOME is not set}/.cache/zatca}
export ZATCA_CACHE
export ZATCA_WASM_TARGET_DIR=${ZATCA_NPM_WASM_TARGET_DIR:-$ZATCA_CACHE/target-npm-wasm}
PROFILE=wasm-release
START=$SECONDS

say() { printf 'npm-build: %s\n' "$*" >&2; }
die() { printf 'npm-build: ERROR: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found (Node >= 18 is required; apt-get install nodejs npm)"

# 1. Toolchain (idempotent, ~0.2 s when cached).
"$REPO/scripts/wasm-toolchain.sh"
BIN=$ZATCA_CACHE/bin
[ -x "$BIN/wasm-bindgen" ] && [ -e "$BIN/wasm-opt" ] || die "wasm-toolchain.sh left no wasm-bindgen/wasm-opt in $BIN"
WB_LOCK=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; if ($1 == "version") { gsub(/"/, "", $3); print $3 } }' \
    "$REPO/Cargo.lock" | sort -V | tail -n 1)
WB_CLI=$("$BIN/wasm-bindgen" --version | awk '{print $2}')
[ -z "$WB_LOCK" ] || [ "$WB_LOCK" = "$WB_CLI" ] \
    || die "wasm-bindgen-cli $WB_CLI does not match the wasm-bindgen crate $WB_LOCK in Cargo.lock"

# 2-3. Modules.
PROFILE_ARGS=(
    --profile "$PROFILE"
    --config "profile.$PROFILE.inherits=\"release\""
    --config "profile.$PROFILE.opt-level=\"z\""
    --config "profile.$PROFILE.lto=\"fat\""
    --config "profile.$PROFILE.codegen-units=1"
    --config "profile.$PROFILE.panic=\"abort\""
    --config "profile.$PROFILE.debug=false"
)
# The elliptic-curve, hash and constant-time-select crates at opt-level 3: ~17% faster signing of
# a small invoice in Node, and no larger (measured 1 KiB raw / 0.9 KiB gzip smaller than all-"z"
# for the signing module); ctutils/subtle add 12% (their selects sit in every table lookup of the
# scalar multiplication) for 0.1 KiB. Everything else stays at "z", where size matters more.
# The 32-bit limb choice for wasm32 is in .cargo/config.toml.
for crate in k256 crypto-bigint elliptic-curve primeorder ecdsa rfc6979 hmac sha2 digest ctutils subtle; do
    PROFILE_ARGS+=(--config "profile.$PROFILE.package.$crate.opt-level=3")
done
ZATCA_GIT_SHA=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || true)
export ZATCA_GIT_SHA
# -Oz until it stops shrinking (--converge: -0.4 KiB gzip for the signing module), without the
# producers and target-features custom sections (metadata no runtime reads: -0.2 KiB).
WASM_OPT_ARGS=(-Oz --converge --strip-producers --strip-target-features)
# wasm-opt must accept what rustc's wasm32 target enables by default (Rust >= 1.82).
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
    --enable-mutable-globals --enable-reference-types --enable-multivalue)

STAGE=$(mktemp -d "$NPM_DIR/.dist.XXXXXX")
OPT_PIDS=()
trap 'kill "${OPT_PIDS[@]}" 2>/dev/null; rm -rf "$STAGE"' EXIT
# wasm-opt of one module runs beside the next module's cargo build: both are mostly one thread
# (wasm-opt's passes, the fat-LTO link), so on 2 cores the two overlap (~25-60 s per module).
optimise() { # module
    local wasm=$STAGE/zatca_${1}_bg.wasm t0=$SECONDS
    "$BIN/wasm-opt" "${WASM_OPT_ARGS[@]}" "${WASM_OPT_FEATURES[@]}" "$wasm" -o "$wasm.opt" \
        >"$STAGE/wasm-opt-$1.log" 2>&1 || { cat "$STAGE/wasm-opt-$1.log" >&2; return 1; }
    mv "$wasm.opt" "$wasm"
    rm -f "$STAGE/wasm-opt-$1.log"
    say "wasm-opt zatca_$1: done ($((SECONDS - t0))s)"
}
# The PDF module first: its wasm-opt is the longest (~100 s), and runs beside the three others' builds.
for module in pdf sign tools rules; do
    t0=$SECONDS
    say "cargo build zatca-wasm --features $module ($PROFILE)"
    "$REPO/scripts/wasm-build.sh" -p zatca-wasm --no-default-features --features "$module" "${PROFILE_ARGS[@]}"
    artifact=$ZATCA_WASM_TARGET_DIR/wasm32-unknown-unknown/$PROFILE/zatca_wasm.wasm
    [ -f "$artifact" ] || die "cargo produced no $artifact"
    # wasm-bindgen reads the artifact before the next module's build replaces it.
    say "wasm-bindgen --target web -> zatca_$module ($((SECONDS - t0))s); wasm-opt -Oz --converge in the background"
    "$BIN/wasm-bindgen" --target web --out-dir "$STAGE" --out-name "zatca_$module" "$artifact"
    optimise "$module" &
    OPT_PIDS+=($!)
done
for pid in "${OPT_PIDS[@]}"; do
    wait "$pid" || die "wasm-opt failed"
done
OPT_PIDS=()

# 4. Sizes, install, swap in, type check.
node --input-type=module - "$STAGE" <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
const dir = process.argv[2];
const sizes = {};
for (const m of ['sign', 'tools', 'pdf', 'rules']) {
  const bytes = readFileSync(`${dir}/zatca_${m}_bg.wasm`);
  sizes[m] = { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  console.error(`npm-build: zatca_${m}_bg.wasm ${(bytes.length / 1024).toFixed(1)} KiB raw, ${(sizes[m].gzip / 1024).toFixed(1)} KiB gzip -9`);
}
writeFileSync(`${dir}/sizes.json`, JSON.stringify(sizes, null, 2) + '\n');
EOF
rm -rf "$NPM_DIR/dist"
mv "$STAGE" "$NPM_DIR/dist"
chmod 755 "$NPM_DIR/dist"
trap - EXIT

if [ ! -d "$NPM_DIR/node_modules" ] || [ "$NPM_DIR/package-lock.json" -nt "$NPM_DIR/node_modules/.package-lock.json" ]; then
    say "npm ci"
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "${ZATCA_NPM_SKIP_TSC:-0}" != 1 ]; then
    say "tsc --noEmit"
    (cd "$NPM_DIR" && node node_modules/typescript/bin/tsc -p tsconfig.json)
fi
say "done: $NPM_DIR/dist ($((SECONDS - START))s)"
