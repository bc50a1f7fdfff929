#!/usr/bin/env bash
# Compares the public API of every library crate with the last release tag
# (v*) using cargo-semver-checks: a breaking change needs a new minor
# version before 1.0, a new major after. Before the first release there is
# nothing to compare with, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."

tag="$(git tag --list 'v*' --sort=-v:refname | head -n 1)"
if [ -z "$tag" ]; then
    echo "semver-checks: no release tag (v*) yet, so no published API to compare with"
    exit 0
fi
if ! command -v cargo-semver-checks >/dev/null 2>&1; then
    cargo install --locked cargo-semver-checks
fi
cargo semver-checks check-release --baseline-rev "$tag" \
    -p tenancy-core -p tenancy-tower -p tenancy-actix -p tenancy-sqlx \
    -p tenancy-diesel -p tenancy-macros-core
