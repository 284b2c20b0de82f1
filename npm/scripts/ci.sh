#!/usr/bin/env bash
# Everything the npm package needs, from a fresh machine: provision the toolchain and build
# (scripts/build.sh, which also runs `npm ci` and `tsc`), then `npm test` (Node test runner:
# golden parity, errors, contract drift, API, key vault, chain allocator, and the Chromium
# browser test, which installs Debian's chromium when it can). Used by .ci/run.
set -euo pipefail
NPM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$NPM_DIR/scripts/build.sh"
cd "$NPM_DIR"
ZATCA_NPM_NO_AUTOBUILD=1 npm test
