#!/usr/bin/env bash
# The main job: the relay on SQLite with the ZATCA simulators in-process (demo mode), serving the
# browser demo when it is present. Extra arguments go to zatca-relay (see `--help`), e.g.
# `scripts/run.sh --listen 127.0.0.1:9090` or `scripts/run.sh --gateway zatca`.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZATCA_CACHE=${ZATCA_CACHE:-$HOME/.cache/zatca}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ZATCA_CACHE/target}
data=${ZATCA_DATA_DIR:-.data}
mkdir -p "$data"
args=(--demo --database-url "sqlite://$data/relay.db")
if [ -d demo ] && [ -f npm/package.json ]; then
  npm/scripts/build.sh >&2
  args+=(--demo-dir demo)
fi
cargo build --release --locked -p zatca-relay >&2
exec "$CARGO_TARGET_DIR/release/zatca-relay" "${args[@]}" "$@"
