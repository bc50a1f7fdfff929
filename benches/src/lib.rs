//! Support for `tenancy`'s benchmarks: where their results go, and the
//! report (`BENCHMARKS.md`) built from criterion's estimates.
//!
//! The benchmarks themselves are in `benches/`: `middleware` (what
//! `TenantLayer` adds to a request) and `database` (tenant transactions,
//! policy cost, concurrency). `bash scripts/bench.sh` runs both and writes
//! the report.
#![deny(missing_docs)]

pub mod estimates;
pub mod peers;
pub mod report;

use std::path::PathBuf;

/// Cargo's target directory: `CARGO_TARGET_DIR`, or the workspace's `target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// Where the benchmarks leave what criterion does not record (allocation
/// counts, server version, data set size): `target/tenancy-bench`.
pub fn output_dir() -> PathBuf {
    target_dir().join("tenancy-bench")
}
