//! Throwaway PostgreSQL for tests that check tenant isolation for real.
//!
//! Row-level security cannot be tested with mocks: what matters is what a
//! real PostgreSQL returns to a real, unprivileged role. This crate starts a
//! throwaway cluster (about a second), or uses the server in `DATABASE_URL`,
//! and hands each test a fresh database with three roles:
//!
//! - the administrator (superuser of the throwaway cluster): for setup only;
//! - [`OWNER_ROLE`]: owns the database and runs migrations;
//! - [`APP_ROLE`]: what the application connects as. Not a superuser, not the
//!   owner of any table, no `BYPASSRLS`, exactly as production should be.
//!
//! ```no_run
//! let db = tenancy_testing::test_database();
//! db.owner_sql("CREATE TABLE notes (id int)").unwrap();
//! assert_eq!(db.app_sql("SELECT count(*) FROM notes").unwrap(), "0");
//! ```
//!
//! When PostgreSQL is missing, tests **fail** with a message that says what
//! to install. They never pass by skipping.
//!
//! # Finding PostgreSQL
//!
//! `DATABASE_URL` (an administrator URL) wins. Otherwise the server binaries
//! are looked up in `$TENANCY_PG_BIN`, next to `initdb` on `PATH`, and in
//! Debian's `/usr/lib/postgresql/<version>/bin`. As root, `initdb` and
//! `postgres` run as the `postgres` OS user (PostgreSQL refuses root).
#![deny(missing_docs)]

mod binaries;
pub mod cancel;
mod cluster;
mod database;
#[cfg(feature = "dns")]
pub mod dns;
mod error;
pub mod fixtures;
mod pgbouncer;
pub mod probe;
#[cfg(feature = "proxy")]
pub mod proxy;
mod psql;
mod server;
pub mod session;

pub use cluster::PgCluster;
pub use database::TestDatabase;
pub use error::HarnessError;
pub use pgbouncer::PgBouncer;
pub use server::PgServer;

/// The role that owns test databases and their tables.
pub const OWNER_ROLE: &str = "tenancy_owner";

/// The `application_name` of every connection the harness itself opens
/// (`admin_sql`, `owner_sql`, `app_sql`), so that a test looking at
/// `pg_stat_activity` can tell the harness's connections from those of the
/// code under test.
pub const HARNESS_APPLICATION_NAME: &str = "tenancy-testing";

/// The role that provisions tenant schemas: `CREATEROLE`, `CREATE` on each
/// test database, not a superuser.
pub const PROVISIONER_ROLE: &str = "tenancy_provisioner";

/// The application role: login, not superuser, not owner, no `BYPASSRLS`.
pub const APP_ROLE: &str = "tenancy_app";

/// A fresh database on the [shared server](PgServer::shared).
///
/// # Panics
///
/// Panics, failing the test, when PostgreSQL cannot be started or reached;
/// the message says what to install or configure.
#[allow(clippy::panic)]
pub fn test_database() -> TestDatabase {
    match PgServer::shared().and_then(PgServer::create_database) {
        Ok(db) => db,
        Err(err) => panic!("tenancy-testing could not provide a PostgreSQL database: {err}"),
    }
}

/// The README's Rust snippets, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The adoption guide's Rust snippets, compiled as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../../docs/adopting.md")]
struct AdoptingDoctests;
