#!/usr/bin/env bash
# Runs the whole test suite — the README's test command; .ci/run calls exactly this.
# Installs what it needs on a fresh Debian machine (wasm32 toolchain, wasm-bindgen-cli, node
# packages, chromium) and caches it under ${ZATCA_CACHE:-~/.cache/zatca}, outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZATCA_CACHE=${ZATCA_CACHE:-$HOME/.cache/zatca}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ZATCA_CACHE/target}
export CARGO_TERM_COLOR=never
start=$(date +%s)
last=$start
# Each step says how long the one before it took, so a slow step shows in CI's log.
step() {
  local now; now=$(date +%s)
  [ "$now" -eq "$start" ] || printf '    (%ss; %ss in all)\n' "$((now - last))" "$((now - start))"
  last=$now
  printf '\n==> %s\n' "$*"
}

# zatca-pdf's tests check the rendered PDFs with qpdf, poppler (pdftotext, pdftoppm) and zbarimg.
pdf_tools=()
command -v qpdf >/dev/null || pdf_tools+=(qpdf)
{ command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null; } || pdf_tools+=(poppler-utils)
command -v zbarimg >/dev/null || pdf_tools+=(zbar-tools)
if [ ${#pdf_tools[@]} -gt 0 ]; then
  step "install ${pdf_tools[*]} (apt) for the PDF tests"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${pdf_tools[@]}"
fi

# The tools of later steps build at the lowest priority while the Rust steps below build and run,
# in the time those leave a core idle (on a fresh machine wasm-bindgen-cli is ~210 s of building
# and cargo-fuzz ~80 s, which took that long in line). Each step that needs one waits for it; a
# failed background install is tried again there, in the foreground.
mkdir -p "$ZATCA_CACHE"
nightly=false
if command -v rustup >/dev/null && rustup toolchain list | grep -q nightly; then nightly=true; fi
nice -n 19 scripts/wasm-toolchain.sh >"$ZATCA_CACHE/prefetch-wasm-toolchain.log" 2>&1 &
wasm_tools=$!
fuzz_tools=
if $nightly; then
  nice -n 19 scripts/fuzz-smoke.sh --install >"$ZATCA_CACHE/prefetch-cargo-fuzz.log" 2>&1 &
  fuzz_tools=$!
fi
# The Python tools (moto, schemathesis) install from PyPI, mostly download and unpacking.
moto_version=5.2.6
{ nice -n 19 scripts/pyvenv.sh "moto-$moto_version" "moto[server]==$moto_version" >/dev/null &&
  nice -n 19 scripts/schemathesis.sh --install; } >"$ZATCA_CACHE/prefetch-python-tools.log" 2>&1 &
python_tools=$!
trap 'kill $wasm_tools $fuzz_tools $python_tools 2>/dev/null || true' EXIT
await() { # PID NAME
  [ -n "$1" ] || return 0
  wait "$1" || echo "(the background install of $2 failed, see $ZATCA_CACHE/prefetch-$2.log; this step tries again)"
}

step "format"
cargo fmt --all --check

step "clippy (all crates, all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "moto (PyPI): the S3-compatible server the relay's archive tests run against"
await "$python_tools" python-tools
RELAY_TEST_MOTO_SERVER="$(scripts/pyvenv.sh "moto-$moto_version" "moto[server]==$moto_version")/bin/moto_server"
export RELAY_TEST_MOTO_SERVER

step "cargo test (core, CLI, golden corpus, SDK parity, seed replay, simulator, relay)"
cargo test --workspace --locked

step "relay tests again on PostgreSQL (a throw-away server on 127.0.0.1; installed with apt if missing)"
scripts/postgres.sh scripts/workspace-tests.sh zatca-relay

step "schemathesis: generated requests against the relay's own /openapi.json (no 5xx, answers match the schemas)"
# The relay binary `cargo test --workspace` built (`cargo build -p zatca-relay` would resolve
# features for the relay alone and compile its dependencies again on a fresh machine).
RELAY_BIN=$CARGO_TARGET_DIR/debug/zatca-relay scripts/schemathesis.sh

step "the relay builds without the simulator (a production build carries no fake CA)"
cargo check -p zatca-relay --no-default-features --locked
if cargo tree -p zatca-relay --no-default-features -e normal --locked | grep -q zatca-sim; then
  echo "zatca-sim is in the relay's production dependency tree" >&2
  exit 1
fi

step "zatca-core builds for wasm32-unknown-unknown and pulls in no wasm-bindgen"
await "$wasm_tools" wasm-toolchain
scripts/wasm-build.sh -p zatca-core --release --locked
scripts/check-core-purity.sh --locked

if $nightly; then
  step "fuzz smoke (cargo-fuzz, ${ZATCA_FUZZ_SECONDS:-15}s per target)"
  await "$fuzz_tools" cargo-fuzz
  scripts/fuzz-smoke.sh "${ZATCA_FUZZ_SECONDS:-15}"
else
  step "fuzz smoke skipped: no nightly toolchain (the seed replay in cargo test still ran)"
fi

if [ -f npm/package.json ]; then
  step "npm package: build (wasm-bindgen, wasm-opt) and tests (node + chromium)"
  npm/scripts/ci.sh
fi

step "done"
echo "all tests passed in $(( $(date +%s) - start ))s"
