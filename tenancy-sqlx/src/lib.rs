//! Tenant-bound sqlx transactions, type-state scoped queries and PostgreSQL
//! row-level security.
//!
//! Two layers, each enough on its own to stop a cross-tenant leak:
//!
//! 1. **In the database**: every [`TenantTx`] sets the tenant for PostgreSQL
//!    row-level security, transaction-locally and in the same message as
//!    `BEGIN` (no extra round trip). With the policies from
//!    [`TenantPolicy`](tenancy_core::rls::TenantPolicy), even a raw
//!    `SELECT * FROM orders` returns only the tenant's rows, and a write
//!    into another tenant fails.
//! 2. **In the types**: [`TenantPool`] is not an `Executor`, so no query runs
//!    without a tenant; [`Scoped`] builders cannot run until bound to a
//!    tenant, and add `tenant_id = $n` to every statement themselves.
//!
//! ```
//! use tenancy_sqlx::{Scoped, TenantPool};
//!
//! tenancy_sqlx::tenant_table!(pub Orders = "orders");
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
//! # let pg = sqlx::PgPool::connect(db.app_url()).await?;
//! let pool = TenantPool::new(pg);
//! let mut tx = pool.begin(&acme).await?;
//! let mine: i64 = Scoped::<Orders>::select().for_tenant(&acme).count(&mut tx).await?;
//! // Raw SQL runs only on a tenant transaction, so RLS still applies:
//! let also_mine: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut tx).await?;
//! assert_eq!(mine, also_mine);
//! tx.commit().await?;
//! # Ok(()) }
//! ```
//!
//! # Setting up the schema
//!
//! Run migrations as the table owner, then connect the application as a
//! role that is not a superuser, not the owner and has no `BYPASSRLS`:
//!
//! ```
//! use tenancy_core::rls::TenantPolicy;
//!
//! let policy = TenantPolicy::new("orders")?;
//! let migration = format!(
//!     "CREATE TABLE orders (\n  id uuid NOT NULL DEFAULT gen_random_uuid(),\n  {},\n  item text NOT NULL,\n  PRIMARY KEY (tenant_id, id)\n);\n{}",
//!     policy.column_sql(),
//!     policy.enable_sql(),
//! );
//! // Put `migration` into a sqlx migration file, or run it with sqlx::raw_sql.
//! # Ok::<(), tenancy_core::rls::InvalidName>(())
//! ```
//!
//! # Connections never leave with a tenant
//!
//! The tenant is set with `SET LOCAL`, so it ends with the transaction. A
//! [`TenantTx`] that is dropped without commit (error, panic, cancelled
//! future) is rolled back before its connection is reused; one whose `BEGIN`
//! failed or was cancelled is closed instead of returned. This is safe behind
//! PgBouncer in transaction mode. The opt-in [`TenantSession`] is not.
//!
//! # Features
//!
//! - `store` (default): [`PgTenantStore`], tenants in a PostgreSQL table.
//! - `audit` (default): [`audit`], which finds misconfigured row-level security.
//! - `schemas` (default): [`schemas`], schema per tenant: provisioning and
//!   migrating tenant schemas.
//! - `lifecycle` (default): [`lifecycle`], create, suspend, delete and
//!   export tenants; [`moves`], move a tenant between tiers (shared tables,
//!   its own schema, its own database) while its traffic runs.
//! - `routing` (default): [`routing`], tenants spread over several servers
//!   or databases.
//! - `macros`: [`query!`], [`query_as!`] and [`query_scalar!`], sqlx's
//!   compile-time checked macros with the tenant scoping proven too, and
//!   the [`manifest`] of tenant tables they read ([`macros`] explains).
//! - `manifest` (part of `macros`): [`manifest`] alone, to write and verify
//!   the manifest (the `tenancy` command uses it).
//! - `admin` (default): [`admin`], cross-tenant access for staff through
//!   its own role, every session trailed before it reads.
//! - `retrofit`: [`retrofit`], the plan that puts an existing database
//!   under tenant isolation (the `tenancy retrofit` command).
//!
//! # Tenant ids of other types
//!
//! Everything here is generic over the tenant id type
//! ([`TenantIdType`](tenancy_core::TenantIdType)), `Uuid` by default: an
//! application keyed by `bigint` uses `TenantPool::<i64>::from(pg)`,
//! `TenantTx<i64>`, `PgTenantStore::<i64>::from(pg)` and tables declared
//! with `id = i64` in [`tenant_table!`]; a tenant of one id type does not
//! compile where another is configured.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin")))]
pub mod admin;
#[cfg(feature = "audit")]
pub mod audit;
mod begin;
pub mod column;
mod error;
mod executor;
mod id_type;
#[cfg(feature = "lifecycle")]
pub mod lifecycle;
#[cfg(feature = "macros")]
pub mod macros;
#[cfg(feature = "manifest")]
pub mod manifest;
#[cfg(feature = "lifecycle")]
pub mod moves;
pub mod observe;
mod pool;
#[cfg(feature = "retrofit")]
pub mod retrofit;
#[cfg(feature = "routing")]
pub mod routing;
#[cfg(feature = "schemas")]
pub mod schemas;
pub mod scoped;
#[cfg(feature = "sealed")]
pub mod sealed;
mod session;
#[cfg(feature = "store")]
mod store;
mod table;
pub mod trail;
mod tx;

pub use begin::BeginTenantTx;
pub use column::{Col, Column, ValueOf};
pub use error::{Error, Result};
pub use id_type::PgTenantId;
pub use observe::{TxMeter, TxObserver, TxOutcome, TxReport};
pub use pool::TenantPool;
pub use scoped::{Order, Scoped};
pub use session::TenantSession;
#[cfg(feature = "store")]
pub use store::PgTenantStore;
pub use table::TenantTable;
pub use tx::TenantTx;

pub use tenancy_core;
#[cfg(feature = "macros")]
pub use tenancy_macros::{query, query_as, query_scalar};

/// The table in each tenant schema that records its applied migrations: the
/// SDK's own, so the audit does not report it as a table without a tenant.
#[cfg(any(feature = "audit", feature = "schemas"))]
pub(crate) const MIGRATIONS_TABLE: &str = "_tenancy_migrations";

#[doc(hidden)]
pub mod __private {
    pub use crate::table::{is_sql_name, same_name};
    pub use uuid::Uuid;
}
