#!/usr/bin/env bash
# A throw-away PostgreSQL server for the relay's tests: installs PostgreSQL from Debian's
# packages if missing, creates a cluster in a temporary directory listening on 127.0.0.1 (a free
# port), a user with a password and a database, runs the given command with
# RELAY_TEST_DATABASE_URL=postgres://… set, then stops the server and removes the directory.
#
#   scripts/postgres.sh cargo test -p zatca-relay
#
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
# PG_FSYNC=on keeps fsync on (for load figures); tests run without it.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS…]" >&2; exit 2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(pg_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "==> install postgresql (apt)"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  bin=$(pg_bin)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-pg.XXXXXX")
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
stop() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$password" > "$dir/pw"
[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/pw"
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
  --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pw" >/dev/null

# A free port: nothing answers on it.
for _ in $(seq 1 50); do
  port=$(( 20000 + RANDOM % 40000 ))
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
fsync=${PG_FSYNC:-off}
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=500 -c fsync=$fsync \
      -c synchronous_commit=$fsync -c full_page_writes=$fsync -c shared_buffers=128MB" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
"${as_pg[@]}" "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE relay LOGIN PASSWORD '$password'" -c "CREATE DATABASE relay OWNER relay" >/dev/null

export RELAY_TEST_DATABASE_URL="postgres://relay:$password@127.0.0.1:$port/relay"
echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync $fsync)"
"$@"
