//! Cross-tenant access for staff: [`AdminPool`], a separate door from
//! [`TenantPool`](crate::TenantPool), through its own database role,
//! where every transaction runs inside a session that states an actor and
//! a reason, committed to the trail before any row is read.
//!
//! Set the database up with [`AdminSetup`](tenancy_core::rls::AdminSetup)
//! (the trail, the scope function, the policies on each tenant table);
//! the database, not this module, enforces what a session may see:
//!
//! - outside a session the admin role sees no tenant's rows (it has no
//!   `BYPASSRLS` and owns nothing: the audit checks);
//! - a session opened for one tenant sees only that tenant's rows, whatever
//!   the tenant setting says;
//! - a session is read-only (`BEGIN READ ONLY`, and policies that refuse
//!   writes) unless opened with [`AdminAccess::allow_writes`]; then every
//!   row it writes is trailed with its before and after;
//! - the trail is append-only, and a session row inserted in the reading
//!   transaction itself does not count: a rollback cannot erase the trace
//!   of a read.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # let setup = tenancy_core::rls::AdminSetup::new("tenancy_admin_doc")?;
//! # db.admin_sql("DO $$ BEGIN CREATE ROLE tenancy_admin_doc LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")?;
//! # db.admin_sql("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO tenancy_admin_doc', current_database()); END $$")?;
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # db.owner_sql(&setup.schema_sql())?;
//! # db.owner_sql(&setup.table_sql("orders", "tenant_id")?)?;
//! # let url = db.app_url().replacen(tenancy_testing::APP_ROLE, "tenancy_admin_doc", 1);
//! use tenancy_sqlx::admin::{AdminAccess, AdminPool};
//!
//! let admin = AdminPool::new(sqlx::PgPool::connect(&url).await?);
//! let access = AdminAccess::new("jane@support", "ticket 4711: missing orders report")?;
//! let mut tx = admin.begin(&access).await?;
//! let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut tx).await?;
//! tx.commit().await?;
//! # assert_eq!(orders, 0);
//! # Ok(()) }
//! ```

mod access;
mod tx;

pub use access::AdminAccess;
pub use tx::AdminTx;

use sqlx::PgPool;
use tenancy_core::rls::admin::{ADMIN_SESSION_SETTING, ADMIN_SESSIONS_TABLE};

use crate::Result;

/// The staff's pool: connected as the admin role, never as the
/// application role. Not convertible from or into a
/// [`TenantPool`](crate::TenantPool), and not an `Executor`: the only way
/// in is [`begin`](Self::begin) with an [`AdminAccess`].
#[derive(Debug, Clone)]
pub struct AdminPool {
    pool: PgPool,
}

impl AdminPool {
    /// Wraps `pool`, connected as the admin role of
    /// [`AdminSetup`](tenancy_core::rls::AdminSetup).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Opens a session for `access` and a transaction inside it.
    ///
    /// Two round trips: the session row is inserted and **committed** first
    /// (the trail must outlive the transaction that reads), then the
    /// transaction begins (`READ ONLY` unless writes were allowed) with the
    /// session set transaction-locally.
    pub async fn begin(&self, access: &AdminAccess) -> Result<AdminTx> {
        let mut conn = self.pool.acquire().await?;
        let insert = format!(
            "INSERT INTO {ADMIN_SESSIONS_TABLE} (actor, reason, tenant, writes) \
             VALUES ($1, $2, $3, $4) RETURNING id"
        );
        let session: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(insert))
            .bind(access.actor())
            .bind(access.reason())
            .bind(access.scope())
            .bind(access.writes())
            .fetch_one(&mut *conn)
            .await?;
        let begin = format!(
            "BEGIN{}; SET LOCAL {ADMIN_SESSION_SETTING} = '{session}'",
            if access.writes() { "" } else { " READ ONLY" }
        );
        AdminTx::begin(conn, begin, session).await
    }
}
