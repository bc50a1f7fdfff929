#!/usr/bin/env bash
# Runs every test of the workspace against real PostgreSQL and pgbouncer.
# Installs the system packages the tests need when they are missing (as root,
# with apt-get; see scripts/setup.sh). Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

exec cargo test --workspace --all-features "$@"
