#!/usr/bin/env bash
# Regenerates sqlx's offline data for the crates whose queries are checked
# at compile time (examples/shop/.sqlx), against a throwaway PostgreSQL
# with their schema. Run it after changing a query or a schema; the test
# `offline_data_matches_the_schema` fails until you do.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p tenancy-testing --bin sqlx-prepare -- shop examples/shop examples/shop/schema.sql
