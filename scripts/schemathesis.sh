#!/usr/bin/env bash
# Property-based API test of the relay from its own OpenAPI document: schemathesis (PyPI, in a
# venv cached under $ZATCA_CACHE) sends generated requests — valid and invalid — to every
# operation of a relay started here in demo mode (in-process ZATCA simulators, a temporary
# SQLite file), with a sandbox API key whose default EGS unit is active, and fails on any 5xx,
# any status the document does not list, or any answer that breaks its schema or content type.
# Bounded in time: SCHEMATHESIS_SECONDS (default 75) for the generated requests.
# RELAY_BIN: a zatca-relay binary to test (scripts/test.sh passes the one `cargo test --workspace`
# built; otherwise `cargo build -p zatca-relay` builds one). `--install` only prepares the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ZATCA_CACHE=${ZATCA_CACHE:-$HOME/.cache/zatca}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ZATCA_CACHE/target}
version=4.32.5
seconds=${SCHEMATHESIS_SECONDS:-75}

if ! command -v curl >/dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends curl
fi
venv=$(scripts/pyvenv.sh "schemathesis-$version" "schemathesis==$version")
[ "${1:-}" != --install ] || exit 0

relay=${RELAY_BIN:-}
if [ -z "$relay" ]; then
  cargo build -p zatca-relay --locked -q
  relay=$CARGO_TARGET_DIR/debug/zatca-relay
fi
work=$(mktemp -d)
relay_pid=
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
"$relay" --demo --listen "127.0.0.1:$port" \
  --database-url "sqlite://$work/relay.db" --demo-dir "$work/no-demo" --log warn \
  >"$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
key=$(curl -fs -X POST "$base/v1/onboard" -H 'content-type: application/json' \
  -d '{"name": "Schemathesis"}' | json '["api_key"]["key"]')
unit=$(curl -fs -X POST "$base/v1/egs" -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d '{"unit_name": "Fuzz POS", "invoice_type": "both"}' | json '["egs_unit_id"]')
for _ in $(seq 100); do
  status=$(curl -fs "$base/v1/egs/$unit/status" -H "authorization: Bearer $key" | json '["onboarding_status"]')
  [ "$status" = active ] && break
  sleep 0.1
done
[ "$status" = active ] || { echo "the unit did not become active: $status" >&2; exit 1; }
# A key whose default unit is the active one: generated invoices without egs_unit_id reach it.
key=$(curl -fs -X POST "$base/v1/keys" -H "authorization: Bearer $key" -H 'content-type: application/json' \
  -d "{\"name\": \"fuzz\", \"default_egs_unit_id\": \"$unit\"}" | json '["key"]')

# Left out: revoking keys (a generated request would revoke the run's own key), and creating or
# re-pointing webhook endpoints (the relay would then send events to generated hosts; the
# webhook tests cover these with a receiver of their own).
started=$(date +%s)
set +e
# From the work directory: schemathesis keeps its own state in ./.schemathesis.
(cd "$work" && "$venv/bin/st" run "$base/openapi.json" --url "$base" \
  --header "Authorization: Bearer $key" --generation-with-security-parameters false \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "$seconds" --seed 20261204 --request-timeout 20 --workers 1 --generation-database none --phases examples,coverage,fuzzing,stateful \
  --exclude-operation-id revoke_key --exclude-operation-id create_webhook \
  --exclude-operation-id update_webhook --no-color)
result=$?
set -e
invoices=$(curl -fs "$base/v1/invoices?limit=1" -H "authorization: Bearer $key" | json '["pagination"]["total_count"]' || echo "?")
echo "schemathesis: $(( $(date +%s) - started ))s; the relay recorded $invoices invoices from generated requests"
if [ $result -ne 0 ]; then
  echo "--- relay log (warnings and errors)" >&2
  tail -n 50 "$work/relay.log" >&2
fi
exit $result
