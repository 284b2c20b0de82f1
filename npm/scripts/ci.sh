#!/usr/bin/env bash
# Everything the npm package needs, from a fresh machine: provision the toolchain and build
# (scripts/build.sh, which also runs `npm ci` and `tsc`), then `npm test` (Node test runner:
# golden parity, errors, contract drift, API, key vault, chain allocator, validate, the Chromium
# browser test, which installs Debian's chromium when it can, and the tests against the relay
# in demo mode: device custody, RelayClient + outbox, and the demo/ point of sale end to end in
# Chromium (these need the debug relay binary, which `cargo test --workspace` builds first in
# scripts/test.sh). Used by .ci/run.
set -euo pipefail
NPM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$NPM_DIR/scripts/build.sh"
cd "$NPM_DIR"
ZATCA_NPM_NO_AUTOBUILD=1 npm test
