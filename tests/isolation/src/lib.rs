//! Isolation under fire: a seeded torture run with injected faults
//! (cancelled futures, panics, statement errors, killed backends, pool
//! exhaustion), through PostgreSQL directly and through pgbouncer in
//! transaction mode. `cargo run -p tenancy-isolation` writes the
//! results to `docs/isolation.md`.
#![deny(missing_docs)]

pub mod backend;
pub mod fixture;
pub mod torture;
