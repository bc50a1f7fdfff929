//! Tenant-bound diesel connections, compile-time tenant scoping and
//! PostgreSQL row-level security: the guarantees of `tenancy-sqlx`, for
//! diesel.
//!
//! 1. **In the types**: a table declares its tenant column once
//!    ([`tenant_table!`]); [`for_tenant`](ForTenantDsl::for_tenant) adds the
//!    tenant condition and yields a [`Scoped`] query; a [`TenantTx`] runs
//!    only scoped queries, and inserts take the tenant from the transaction.
//!    A query that names no tenant, or a table without a tenant column, does
//!    not compile (trybuild tests prove it).
//! 2. **In the database**: [`TenantPool::transaction`] binds the tenant for
//!    row-level security in the `BEGIN` message, so even raw SQL through
//!    [`TenantTx::dangerous_raw_connection`] sees only the tenant's rows.
//!
//! ```
//! use diesel::prelude::*;
//! use tenancy_diesel::{ForTenantDsl, TenantPool};
//!
//! diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text, quantity -> Int4 } }
//! tenancy_diesel::tenant_table!(orders.tenant_id);
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # let pool = TenantPool::new(diesel::r2d2::Pool::builder().max_size(1).build(diesel::r2d2::ConnectionManager::new(db.app_url()))?);
//! # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
//! # let id = uuid::Uuid::new_v4();
//! pool.transaction(&acme, |tx| {
//!     let tenant = tx.tenant().clone();
//!     let burgers: Vec<(uuid::Uuid, String, i32)> = tx.fetch_all(
//!         orders::table
//!             .for_tenant(&tenant)
//!             .filter(orders::item.eq("Burger"))
//!             .select((orders::id, orders::item, orders::quantity)),
//!     )?;
//!     tx.execute_scoped(diesel::update(orders::table).set(orders::quantity.eq(3)).for_tenant(&tenant).filter(orders::id.eq(id)))?;
//!     tx.execute_scoped(diesel::delete(orders::table).for_tenant(&tenant).filter(orders::quantity.eq(0)))?;
//!     Ok::<_, tenancy_diesel::Error>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! # Migrations
//!
//! The policy SQL is shared with `tenancy-sqlx`:
//! [`TenantPolicy`](tenancy_core::rls::TenantPolicy) generates it. Put
//! `policy.column_sql()` into the `CREATE TABLE` and `policy.enable_sql()`
//! after it in a diesel migration's `up.sql` (and `disable_sql()` into
//! `down.sql`), or run it from Rust with `conn.batch_execute(&policy.enable_sql())`.
//! Run migrations as the table owner; connect the pool as a role that is not
//! a superuser, not the owner and has no `BYPASSRLS`.
//! # Features
//!
//! - `async`: `AsyncTenantPool` and `AsyncTenantTx` for diesel-async
//!   (`AsyncPgConnection` on deadpool), and [`pgbouncer::manager_config`]
//!   for pools that go through pgbouncer in transaction mode.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "async")]
mod async_pool;
mod error;
mod grouped;
mod id_type;
mod join_condition;
#[cfg(feature = "async")]
pub mod pgbouncer;
mod pool;
mod scoped;
mod tenant_column_writes;
mod tx;

#[cfg(feature = "async")]
pub use async_pool::{AsyncTenantPool, AsyncTenantTx};
pub use error::{Error, Result};
pub use id_type::DieselTenantId;
pub use pool::TenantPool;
pub use scoped::{ForTenantDsl, Grouped, JoinCondition, JoinOn, Scoped, TenantFilter, TenantTable};
pub use tx::TenantTx;

pub use tenancy_core;
