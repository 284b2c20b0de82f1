#!/usr/bin/env bash
# Compares the rule ids zatca-rules expects for each golden mutant (wasm/rules/tests/support/
# mutants.rs) with what ZATCA's validator reports for the same document, and the XSD verdict of
# every mutant (those and the structure mutants of tests/support/structure_mutants.rs) with the
# validator's XSD stage. Needs ../shared/tools/zatca-validate (ZATCA's SDK data), so it is a dev
# script, not part of CI.
#
# Usage: scripts/rules-agreement.sh [ZATCA_VALIDATE]
# Prints one line per mutant (same / differs, with both id sets) and the agreement figures.
# Compared: schematron ids (BR-…) and `XSD` (the validator's XSD stage failed). Its hash,
# signature and QR checks fail on every mutant (the signature covers the changed bytes) and are
# outside this crate.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VALIDATE=${1:-$REPO/../shared/tools/zatca-validate}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
cargo run -q -p zatca-rules --example mutants -- "$OUT"
same=0
total=0
xsd_same=0
xsd_total=0
for xml in "$OUT"/*.xml; do
    name=$(basename "$xml" .xml)
    report=$({ "$VALIDATE" "$xml" 2>&1 || true; })
    got=$( {
        sed -nE 's/^ +(ERROR|WARNING) +(BR-[A-Z0-9-]+):.*/\2/p' <<<"$report"
        if grep -q '^\[XSD\] validation result : FAILED' <<<"$report"; then echo XSD; fi
    } | sort -u | paste -sd' ')
    if [ -f "$OUT/$name.expected" ]; then
        want=$(sort -u "$OUT/$name.expected" | paste -sd' ')
        total=$((total + 1))
        if [ "$want" = "$got" ]; then
            same=$((same + 1))
            echo "same     $name: $want"
        else
            echo "differs  $name: zatca-rules [$want] zatca-validate [$got]"
        fi
    else
        # A structure mutant: XSD, or nothing for a variant the schema allows (empty file).
        want=$(grep -q . "$OUT/$name.xsd-only" && echo XSD || true)
    fi
    # The XSD verdict alone.
    xsd_total=$((xsd_total + 1))
    want_xsd=no; grep -qw XSD <<<"$want" && want_xsd=yes
    got_xsd=no; grep -qw XSD <<<"$got" && got_xsd=yes
    if [ "$want_xsd" = "$got_xsd" ]; then
        xsd_same=$((xsd_same + 1))
        [ -f "$OUT/$name.expected" ] || echo "same     $name: XSD $want_xsd"
    else
        echo "differs  $name: XSD zatca-rules [$want_xsd] zatca-validate [$got_xsd] $(grep -A2 '^\[XSD\]' <<<"$report" | tail -n +2 | head -1)"
    fi
done
echo "agreement: $same of $total golden mutants report the same rule ids"
echo "XSD agreement: $xsd_same of $xsd_total mutants get the same XSD verdict"
