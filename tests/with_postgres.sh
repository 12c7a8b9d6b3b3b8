#!/usr/bin/env bash
# Run a command with DD_TEST_POSTGRES_URL pointing at a throw-away PostgreSQL cluster that
# listens on 127.0.0.1 only and is removed afterwards.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found (make postgres installs them)" >&2; exit 1; }

datadir=$(mktemp -d)
port=${DD_TEST_POSTGRES_PORT:-54329}
as_owner=()
if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root; the cluster belongs to the postgres system user.
    chown postgres "$datadir"
    as_owner=(runuser -u postgres --)
fi

cleanup() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$datadir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$datadir" -U dd_test --auth=trust -E UTF8 >/dev/null
"${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir" -w -l "$datadir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c fsync=off -c full_page_writes=off" start >/dev/null

export DD_TEST_POSTGRES_URL="postgresql://dd_test@127.0.0.1:$port/postgres"
"$@"
