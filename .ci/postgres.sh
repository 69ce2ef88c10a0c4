#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the lock tests (sourced by .ci/run).
# Installs the Debian package when it is missing; the server runs as the postgres user in a
# temporary directory and is stopped when the CI script exits.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_DATA=$(mktemp -d /tmp/reconciler-pg.XXXXXX)
PG_PORT=${PG_PORT:-55432}
chown postgres "$PG_DATA"
su postgres -s /bin/sh -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DATA -l $PG_DATA/server.log -w \
    -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA' start" >/dev/null
stop_postgres() {
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DATA -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$PG_DATA"
}
trap stop_postgres EXIT
export RECONCILER_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export RECONCILER_REQUIRE_POSTGRES=1
