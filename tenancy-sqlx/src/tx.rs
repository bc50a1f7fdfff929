//! [`TenantTx`]: a transaction bound to one tenant.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;
use tenancy_core::Tenant;

use crate::Result;

/// A database transaction bound to one tenant: the tenant is set
/// transaction-locally (`SET LOCAL`) for PostgreSQL row-level security.
///
/// Get one from [`TenantPool::begin`](crate::TenantPool::begin). It derefs to
/// [`PgConnection`], so raw sqlx queries run on it with `&mut *tx`, and row
/// security still applies to them:
///
/// ```no_run
/// # async fn demo(pool: tenancy_sqlx::TenantPool, acme: tenancy_core::Tenant) -> tenancy_sqlx::Result<()> {
/// let mut tx = pool.begin(&acme).await?;
/// // No WHERE clause, yet only acme's rows come back: RLS filters them.
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut *tx).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// # Ending it
///
/// [`commit`](TenantTx::commit) or [`rollback`](TenantTx::rollback).
/// Dropping it without either (an early return, an error, a panic, a
/// cancelled future) rolls it back: the `ROLLBACK` is sent before the
/// connection is reused. Either way the tenant setting ends with the
/// transaction, so the pooled connection carries no tenant afterwards.
pub struct TenantTx {
    conn: PoolConnection<Postgres>,
    tenant: Tenant,
    open: bool,
    /// Whether statements may be prepared as named, cached statements.
    named_statements: bool,
    /// A routed pool's per-tenant connection slot, released with the
    /// transaction.
    #[cfg(feature = "routing")]
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TenantTx {
    /// Opens a transaction on a connection from `pool` with `begin_sql`
    /// (`BEGIN; SET LOCAL ...`), in one round trip.
    ///
    /// If the statement fails, or this future is dropped before it finished,
    /// the connection is **closed** instead of going back to the pool: a
    /// half-begun transaction (possibly with the tenant set) can never reach
    /// the next user. sqlx's own `begin_with` returns such a connection to the
    /// pool inside an aborted transaction.
    pub(crate) async fn begin(
        pool: &PgPool,
        begin_sql: String,
        tenant: Tenant,
        named_statements: bool,
    ) -> Result<Self> {
        let conn = pool.acquire().await?;
        let mut guard = CloseUnlessDisarmed(Some(conn));
        let conn = guard.conn();
        PgTransactionManager::begin(conn, Some(AssertSqlSafe(begin_sql).into_sql_str())).await?;
        Ok(Self {
            conn: guard.disarm(),
            tenant,
            open: true,
            named_statements,
            #[cfg(feature = "routing")]
            slot: None,
        })
    }

    /// Keeps `slot` until this transaction is dropped.
    #[cfg(feature = "routing")]
    pub(crate) fn holding(mut self, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        self.slot = slot;
        self
    }

    /// The tenant this transaction is bound to.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Whether queries on this transaction may be prepared as named
    /// statements (sqlx's default, cached per connection): `false` when the
    /// pool was built with
    /// [`TenantPool::unnamed_statements`](crate::TenantPool::unnamed_statements).
    /// The [`Scoped`](crate::Scoped) builders follow it; pass it to your own
    /// queries with sqlx's `.persistent(...)`:
    ///
    /// ```no_run
    /// # async fn demo(mut tx: tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    /// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
    ///     .persistent(tx.named_statements())
    ///     .fetch_one(&mut *tx)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn named_statements(&self) -> bool {
        self.named_statements
    }

    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<()> {
        PgTransactionManager::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }

    /// Rolls the transaction back.
    pub async fn rollback(mut self) -> Result<()> {
        PgTransactionManager::rollback(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        if self.open {
            // Queues ROLLBACK (one per open level, savepoints included); sqlx
            // sends it before the connection is handed out again.
            while PgTransactionManager::get_transaction_depth(&self.conn) > 0 {
                PgTransactionManager::start_rollback(&mut self.conn);
            }
        }
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", &self.tenant.id())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

/// Holds a pooled connection; unless disarmed, marks it to be closed (not
/// returned to the pool) when dropped.
pub(crate) struct CloseUnlessDisarmed(pub(crate) Option<PoolConnection<Postgres>>);

impl CloseUnlessDisarmed {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        match &mut self.0 {
            Some(conn) => conn,
            None => {
                unreachable!("the connection is only taken by `disarm`, which consumes the guard")
            }
        }
    }

    pub(crate) fn disarm(mut self) -> PoolConnection<Postgres> {
        match self.0.take() {
            Some(conn) => conn,
            None => {
                unreachable!("the connection is only taken by `disarm`, which consumes the guard")
            }
        }
    }
}

impl Drop for CloseUnlessDisarmed {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.0 {
            conn.close_on_drop();
        }
    }
}
