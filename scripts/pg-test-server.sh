#!/usr/bin/env bash
# Start (or find) a throwaway PostgreSQL server for the test suite and print its URL.
#
# Idempotent: a second call finds the running server and prints the same URL. The server
# listens on 127.0.0.1 only, on a free port, with its data under /tmp (trust auth: it is a
# test server, never a production one). Installs Debian's `postgresql` package when
# initdb is missing. As root, initdb/pg_ctl run as the `postgres` user.
#
#   scripts/pg-test-server.sh          -> postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh stop     -> stops it and removes its data
set -euo pipefail

BASE="${WORKRIGHT_PG_DIR:-/tmp/workright-pg-test}"
DATA="$BASE/data"
PORT_FILE="$BASE/port"
LOG="$BASE/server.log"

find_bin() {
    local name="$1" found
    found="$(command -v "$name" 2>/dev/null || true)"
    if [[ -z "$found" ]]; then
        found="$(ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
    printf '%s' "$found"
}

INITDB="$(find_bin initdb)"
if [[ -z "$INITDB" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "initdb not found; install PostgreSQL (apt-get install postgresql) or set TEST_DATABASE_URL" >&2
        exit 1
    fi
    echo "installing PostgreSQL (Debian package postgresql)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    INITDB="$(find_bin initdb)"
fi
PG_CTL="$(dirname "$INITDB")/pg_ctl"
[[ -x "$PG_CTL" ]] || PG_CTL="$(find_bin pg_ctl)"

if [[ "$(id -u)" -eq 0 ]]; then
    AS=(runuser -u postgres --)
    OWNER=postgres
else
    AS=()
    OWNER="$(id -un)"
fi

if [[ "${1:-}" == "stop" ]]; then
    if [[ -d "$DATA" ]]; then
        "${AS[@]}" "$PG_CTL" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$BASE"
    exit 0
fi

url() { printf 'postgresql+psycopg://postgres@127.0.0.1:%s/postgres\n' "$(cat "$PORT_FILE")"; }

mkdir -p "$BASE"
chown "$OWNER" "$BASE"
chmod 700 "$BASE"

if [[ -f "$PORT_FILE" && -f "$DATA/PG_VERSION" ]] && "${AS[@]}" "$PG_CTL" -D "$DATA" status >/dev/null 2>&1; then
    url
    exit 0
fi

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"
    "${AS[@]}" "$INITDB" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$BASE/initdb.log" 2>&1 \
        || { cat "$BASE/initdb.log" >&2; exit 1; }
fi

# A free port on the loopback interface, chosen by the kernel.
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
printf '%s\n' "$PORT" >"$PORT_FILE"
"${AS[@]}" "$PG_CTL" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$BASE -c max_connections=200" \
    start >/dev/null || { tail -n 30 "$LOG" >&2; exit 1; }
url
