#!/usr/bin/env bash
# Local PostgreSQL for the DB tests (Debian's `postgresql` package, run as root).
#
#   scripts/dev-postgres.sh up     start the cluster; create role/database if missing (idempotent)
#   scripts/dev-postgres.sh down   stop the cluster
#   scripts/dev-postgres.sh url    print the SQLAlchemy URL the tests use
#
# Typical use:  export ROLLBOT_TEST_POSTGRES_URL="$(scripts/dev-postgres.sh up && scripts/dev-postgres.sh url)"
set -euo pipefail

PG_USER=rollbot
PG_PASSWORD=rollbot
PG_DB=rollbot_test
PG_HOST=127.0.0.1
PG_PORT=5432
URL="postgresql+asyncpg://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:${PG_PORT}/${PG_DB}"

die() { echo "dev-postgres: $*" >&2; exit 1; }

# The newest installed major version and its `main` cluster (Debian layout).
find_version() {
    command -v pg_ctlcluster >/dev/null 2>&1 \
        || die "PostgreSQL is not installed (no pg_ctlcluster); run: apt-get install -y postgresql"
    local v
    v=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -n | tail -n 1)
    [[ -n "$v" ]] || die "PostgreSQL is not installed (/usr/lib/postgresql is empty); run: apt-get install -y postgresql"
    echo "$v"
}

as_postgres() {
    # cd / so psql does not complain when the caller's directory is unreadable to postgres.
    if [[ "$(id -un)" == postgres ]]; then (cd / && "$@"); else (cd / && runuser -u postgres -- "$@"); fi
}

psql_admin() {
    # Unix-socket peer auth as the postgres superuser; quiet, fail on the first error. SQL on stdin.
    as_postgres psql -p "$PG_PORT" -X -q -v ON_ERROR_STOP=1 -At
}

cmd_up() {
    local v
    v=$(find_version)
    [[ "$(id -u)" == 0 || "$(id -un)" == postgres ]] || die "run as root (or postgres) to manage the cluster"
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$v" '$1 == v && $2 == "main"' | grep -q .; then
        pg_createcluster "$v" main --port "$PG_PORT" >/dev/null
    fi
    if ! pg_lsclusters -h | awk -v v="$v" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
        pg_ctlcluster "$v" main start
    fi
    # Wait for it to accept connections (start is usually synchronous, but be safe).
    local _
    for _ in $(seq 1 50); do
        as_postgres pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
        sleep 0.2
    done
    as_postgres pg_isready -q -h "$PG_HOST" -p "$PG_PORT" \
        || die "PostgreSQL $v did not become ready on ${PG_HOST}:${PG_PORT}"

    # Idempotent role: create, or reset the password so a stale one can't break the tests.
    # CREATEDB lets the test suite make one scratch database per test.
    psql_admin <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '${PG_USER}', '${PG_PASSWORD}')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') \gexec
ALTER ROLE ${PG_USER} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
SELECT format('CREATE DATABASE %I OWNER %I', '${PG_DB}', '${PG_USER}')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${PG_DB}') \gexec
SQL
    echo "dev-postgres: PostgreSQL $v up; $(redacted_url)" >&2
}

cmd_down() {
    local v
    v=$(find_version)
    if pg_lsclusters -h | awk -v v="$v" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
        pg_ctlcluster "$v" main stop
    fi
}

redacted_url() { echo "${URL/:${PG_PASSWORD}@/:***@}"; }

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac
