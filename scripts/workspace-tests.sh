#!/usr/bin/env bash
# Runs the test binaries of one workspace package as `cargo test --workspace` built them, so that
# nothing is compiled again: `cargo test -p PACKAGE` resolves features for that package alone and
# builds the shared dependencies a second time (for the relay on a fresh machine: 134 s of its
# 282 s PostgreSQL pass). Each binary runs from the package's directory, as cargo runs it.
#
# Usage: scripts/workspace-tests.sh PACKAGE [ARGS for each test binary…]
#   scripts/postgres.sh scripts/workspace-tests.sh zatca-relay
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=${1:?usage: $0 PACKAGE [ARGS…]}
shift
manifest=$(cargo metadata --no-deps --format-version 1 --locked | python3 -c '
import json, sys
found = [p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1]]
print(found[0] if found else "")' "$pkg")
[ -n "$manifest" ] || { echo "no package $pkg in this workspace" >&2; exit 2; }
mapfile -t binaries < <(cargo test --workspace --locked --no-run --message-format=json-render-diagnostics | python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
            and msg["profile"]["test"] and msg["manifest_path"] == sys.argv[1]):
        print(msg["executable"])' "$manifest")
[ ${#binaries[@]} -gt 0 ] || { echo "cargo built no test binary of $pkg" >&2; exit 1; }
dir=$(dirname "$manifest")
for binary in "${binaries[@]}"; do
  echo "     Running $(basename "$binary") ($pkg)"
  (cd "$dir" && CARGO_MANIFEST_DIR=$dir CARGO_PKG_NAME=$pkg "$binary" "$@")
done
