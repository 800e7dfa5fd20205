#!/bin/sh
# The stand-in PostgreSQL's entrypoint: on an empty $PGDATA, initdb with POSTGRES_USER as the
# superuser (password POSTGRES_PASSWORD, scram-sha-256 from the network), then create POSTGRES_DB;
# then exec the command (postgres, listening on every interface of the container).
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is required" >&2
    exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    {
        echo "listen_addresses = '*'"
        echo "unix_socket_directories = '/var/run/postgresql'"
    } >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != "postgres" ]; then
        postgres -c listen_addresses='' -c unix_socket_directories=/var/run/postgresql &
        pid=$!
        until pg_isready -q -h /var/run/postgresql; do sleep 0.2; done
        psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\"" >/dev/null
        kill -INT "$pid"
        wait "$pid" || true
    fi
    echo "postgres-entrypoint: cluster made, user $POSTGRES_USER, database $POSTGRES_DB"
fi
exec "$@"
