#!/usr/bin/env bash
# Builds the cargo-fuzz targets of zatca-core and zatca-rules with nightly and runs each briefly, seeded with
# the golden corpus. Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]
# scripts/fuzz-smoke.sh --install only installs cargo-fuzz (scripts/test.sh does that early, in
# the background, while the other steps build and run).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${ZATCA_CACHE:-$HOME/.cache/zatca}
export PATH="$cache/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz into $cache" >&2
  # A debug build: cargo-fuzz only starts cargo, and builds in far less time than a release one.
  cargo install cargo-fuzz --debug --locked --root "$cache" >/dev/null 2>&1 ||
    cargo install cargo-fuzz --debug --root "$cache"
fi
[ "${1:-}" != --install ] || exit 0
seconds=${1:-15}
export CARGO_TARGET_DIR="$cache/target-fuzz"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/json" "$seeds/xml" "$seeds/qr" "$seeds/der"
for f in tests/fixtures/invoices/*/input.json; do cp "$f" "$seeds/json/$(basename "$(dirname "$f")").json"; done
for f in tests/fixtures/invoices/*/expected/signed.xml; do cp "$f" "$seeds/xml/$(basename "$(dirname "$(dirname "$f")")").xml"; done
for f in tests/fixtures/invoices/*/expected/qr.txt; do head -n1 "$f" > "$seeds/qr/$(basename "$(dirname "$(dirname "$f")")")"; done
cp tests/fixtures/keys/* tests/fixtures/samples/sdk-R3.4.8/Certificates/* "$seeds/der/"
find tests/fixtures/samples -name '*.xml' | while read -r f; do cp "$f" "$seeds/xml/sdk-$(basename "$f")"; done
run() { # crate-dir target:seed-dir ...
  (cd "$1" && shift && for target in "$@"; do
    name=${target%%:*}; dir=${target##*:}
    echo "fuzz $name for ${seconds}s"
    cargo +nightly fuzz run "$name" "$seeds/$dir" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 3
  done)
}
run wasm/core/fuzz invoice_json:json invoice_xml:xml qr_decode:qr certificate_and_key:der
run wasm/rules/fuzz validate_xml:xml validate_json:json
