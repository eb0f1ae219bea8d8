#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl) the test suite starts its own
# PostgreSQL with are present: on the PATH or in /usr/lib/postgresql/*/bin (Debian's layout).
# When missing and running as root with apt-get, install them (idempotent). Nothing is started
# here and no system cluster is used: the tests run their own in a temp directory.
set -euo pipefail

have() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && \
        compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

if have; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: installing the PostgreSQL server binaries (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    # Debian starts a system cluster on install; the tests do not use it.
    if have; then
        exit 0
    fi
fi
echo "ensure-postgres: initdb/pg_ctl not found; install PostgreSQL's server package" \
     "(Debian/Ubuntu: apt-get install postgresql)" >&2
exit 1
