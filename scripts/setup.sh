#!/usr/bin/env bash
# Installs the system packages the tests and benchmarks need when they are
# missing (as root, with apt-get); otherwise says what to install and fails.
# Used by scripts/test.sh and scripts/bench.sh.
set -euo pipefail

need=()
# PostgreSQL server binaries (initdb, postgres) and psql for the test harness.
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
# As root the harness runs PostgreSQL as the `postgres` OS user, which the package creates.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then need+=(postgresql); fi
# libpq for diesel's PgConnection (pq-sys links it).
ls /usr/lib/*/libpq.so >/dev/null 2>&1 || ls /usr/lib/libpq.so >/dev/null 2>&1 || need+=(libpq-dev)
# pgbouncer for the transaction-pooling isolation tests.
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
# Headless Chromium and ChromeDriver for the admin portal's browser tests.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)

if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "the tests need these packages: ${need[*]}" >&2
        echo "install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and run again" >&2
        exit 1
    fi
fi
