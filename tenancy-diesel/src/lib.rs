//! Tenant-bound diesel connections and PostgreSQL row-level security.
//!
//! **Not implemented yet.** This crate reserves its place in the workspace;
//! the tracking issue describes what it will provide: tenant-bound
//! `PgConnection`s (r2d2) and `AsyncPgConnection`s that set the tenant for
//! row-level security in every transaction, and a `for_tenant` query
//! extension that only compiles for tables with a tenant column.
#![deny(missing_docs)]

pub use tenancy_core;
