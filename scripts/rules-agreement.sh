#!/usr/bin/env bash
# Compares the rule ids zatca-rules expects for each golden mutant (wasm/rules/tests/support/
# mutants.rs) with what ZATCA's validator reports for the same document. Needs
# ../shared/tools/zatca-validate (ZATCA's SDK data), so it is a dev script, not part of CI.
#
# Usage: scripts/rules-agreement.sh [ZATCA_VALIDATE]
# Prints one line per mutant (same / differs, with both id sets) and the agreement figure.
# Only schematron ids (BR-…) are compared: the validator's XSD, hash, signature and QR checks
# fail on every mutant (the signature covers the changed bytes) and are outside this crate.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VALIDATE=${1:-$REPO/../shared/tools/zatca-validate}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cargo run -q -p zatca-rules --example mutants -- "$OUT"
same=0
total=0
for xml in "$OUT"/*.xml; do
    name=$(basename "$xml" .xml)
    want=$(sort -u "$OUT/$name.expected" | paste -sd' ')
    got=$({ "$VALIDATE" "$xml" 2>&1 || true; } | sed -nE 's/^ +(ERROR|WARNING) +(BR-[A-Z0-9-]+):.*/\2/p' | sort -u | paste -sd' ')
    total=$((total + 1))
    if [ "$want" = "$got" ]; then
        same=$((same + 1))
        echo "same     $name: $want"
    else
        echo "differs  $name: zatca-rules [$want] zatca-validate [$got]"
    fi
done
echo "agreement: $same of $total mutants report the same rule ids"
