//! [`TenantTx`]: a transaction bound to one tenant.

use std::fmt;

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row, SqlSafeStr};
use sqlx_core::transaction::TransactionManager;
use tenancy_core::reset::{Leftovers, TxEnd, end_and_reset_sql};
use tenancy_core::{Tenant, TenantIdType};
use uuid::Uuid;

use crate::Result;
use crate::executor::RawConnection;
use crate::observe::{Running, TxMeter, TxOutcome};

/// A database transaction bound to one tenant: the tenant is set
/// transaction-locally (`SET LOCAL`) for PostgreSQL row-level security.
///
/// Get one from [`TenantPool::begin`](crate::TenantPool::begin).
/// `&mut TenantTx` is an sqlx [`Executor`](sqlx::Executor), so raw sqlx
/// queries (and `sqlx::query!`) run on it with `&mut tx`, and row security
/// still applies to them:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// # let pool = tenancy_sqlx::TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// # db.admin_sql("INSERT INTO orders (tenant_id, item) VALUES (gen_random_uuid(), 'another tenant''s')")?;
/// let mut tx = pool.begin(&acme).await?;
/// // No WHERE clause, yet only acme's rows come back: RLS filters them.
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut tx).await?;
/// assert_eq!(n, 0);
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// It hands out no `&mut PgConnection`: one could be swapped
/// (`std::mem::swap`) for another tenant's or an administrator's connection.
///
/// # Ending it
///
/// [`commit`](TenantTx::commit) or [`rollback`](TenantTx::rollback).
/// Dropping it without either (an early return, an error, a panic, a
/// cancelled future) rolls it back: the `ROLLBACK` is sent before the
/// connection is reused. Either way the tenant setting ends with the
/// transaction, so the pooled connection carries no tenant afterwards.
///
/// # After raw SQL
///
/// Raw SQL can leave state on the connection that outlives the transaction:
/// a `COMMIT` followed by a session-level `SET`, temporary tables,
/// `LISTEN`, advisory locks, prepared statements. So once raw SQL ran on a
/// transaction, ending it also resets the session
/// ([`tenancy_core::reset`]), in the
/// same message as the `COMMIT` or `ROLLBACK` (no extra round trip). The
/// connection is **closed** instead of reused when raw SQL left prepared
/// statements, when the reset fails (for example in a transaction that an
/// error aborted: `commit` then returns that error), and when the
/// transaction is dropped without `commit` or `rollback`. Transactions that
/// ran only [`Scoped`](crate::Scoped) builders skip all of this.
///
/// `RESET ALL` returns every setting to its value at connection start: put
/// per-connection settings into the connect options
/// (`PgConnectOptions::options`), not into a `SET` in the pool's
/// `after_connect`, which the reset would undo.
pub struct TenantTx<K = Uuid> {
    conn: PoolConnection<Postgres>,
    tenant: Tenant<K>,
    open: bool,
    /// Whether raw SQL ran, which may have changed the session.
    raw: bool,
    /// Whether statements may be prepared as named, cached statements.
    named_statements: bool,
    /// The measurement of a metered pool's transaction, reported once.
    meter: Option<Running<K>>,
    /// A routed pool's per-tenant connection slot, released with the
    /// transaction.
    #[cfg(feature = "routing")]
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<K: TenantIdType> TenantTx<K> {
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
        mut begin_sql: String,
        tenant: Tenant<K>,
        named_statements: bool,
        meter: Option<&TxMeter<K>>,
    ) -> Result<Self> {
        let conn = pool.acquire().await?;
        let mut guard = CloseUnlessDisarmed(Some(conn));
        let conn = guard.conn();
        let running = meter.map(|meter| {
            if let Some(suffix) = meter.begin_suffix() {
                begin_sql.push_str(&suffix);
            }
            meter.start()
        });
        PgTransactionManager::begin(conn, Some(AssertSqlSafe(begin_sql).into_sql_str())).await?;
        Ok(Self {
            conn: guard.disarm(),
            tenant,
            open: true,
            raw: false,
            named_statements,
            meter: running,
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
    pub fn tenant(&self) -> &Tenant<K> {
        &self.tenant
    }

    /// Whether queries on this transaction may be prepared as named
    /// statements (sqlx's default, cached per connection): `false` when the
    /// pool was built with
    /// [`TenantPool::unnamed_statements`](crate::TenantPool::unnamed_statements).
    /// The [`Scoped`](crate::Scoped) builders follow it; pass it to your own
    /// queries with sqlx's `.persistent(...)`:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = tenancy_testing::test_database();
    /// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
    /// # let pg = sqlx::PgPool::connect(db.app_url()).await?;
    /// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
    /// let pool = tenancy_sqlx::TenantPool::new(pg).unnamed_statements(); // behind pgbouncer < 1.21
    /// let mut tx = pool.begin(&acme).await?;
    /// assert!(!tx.named_statements());
    /// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
    ///     .persistent(tx.named_statements())
    ///     .fetch_one(&mut tx)
    ///     .await?;
    /// # assert_eq!(n, 0);
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn named_statements(&self) -> bool {
        self.named_statements
    }

    /// The connection, for the SDK's own statements (which change no session
    /// state): unlike raw SQL, they do not mark the session for a reset.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Commits the transaction (and resets the session if raw SQL ran).
    ///
    /// On a [metered](crate::TenantPool::metered) pool that counts rows,
    /// the rows written are read in the same message as the `COMMIT`; a
    /// transaction that an earlier error aborted then fails to commit with
    /// that error (sqlx, and an unmetered pool, answer `COMMIT` there with
    /// a silent rollback).
    pub async fn commit(mut self) -> Result<()> {
        let prefix = self.meter.as_ref().and_then(Running::commit_prefix);
        let ended = match (self.raw, prefix) {
            (true, prefix) => self.end_and_reset(TxEnd::Commit, prefix).await,
            (false, Some(prefix)) => self.commit_counting_rows(&prefix).await,
            (false, None) => PgTransactionManager::commit(&mut self.conn)
                .await
                .map(|()| {
                    self.open = false;
                    None
                })
                .map_err(Into::into),
        };
        self.report(TxOutcome::Committed, ended)
    }

    /// Rolls the transaction back (and resets the session if raw SQL ran).
    pub async fn rollback(mut self) -> Result<()> {
        let ended = if self.raw {
            self.end_and_reset(TxEnd::Rollback, None).await
        } else {
            PgTransactionManager::rollback(&mut self.conn)
                .await
                .map(|()| {
                    self.open = false;
                    None
                })
                .map_err(Into::into)
        };
        self.report(TxOutcome::RolledBack, ended)
    }

    /// Reports the end to a metered pool's observer: `outcome` with the
    /// rows written if `ended` is `Ok`, [`TxOutcome::Failed`] otherwise.
    fn report(&mut self, outcome: TxOutcome, ended: Result<Option<u64>>) -> Result<()> {
        if let Some(meter) = self.meter.take() {
            match &ended {
                Ok(rows) => meter.end(&self.tenant, outcome, *rows),
                Err(_) => meter.end(&self.tenant, TxOutcome::Failed, None),
            }
        }
        ended.map(drop)
    }

    /// Commits after `prefix` read the rows written, in one message.
    /// Closes the connection if the message failed: the transaction may
    /// still be open on it.
    async fn commit_counting_rows(&mut self, prefix: &str) -> Result<Option<u64>> {
        // Ends with `BEGIN` to keep sqlx's count of open transactions true,
        // as in `end_and_reset`.
        let sql = format!("{prefix}COMMIT; BEGIN");
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(&mut *self.conn)
            .await;
        self.open = false;
        match result {
            Ok(rows) => {
                PgTransactionManager::start_rollback(&mut self.conn);
                Ok(rows_written(rows.first()))
            }
            Err(error) => {
                self.conn.close_on_drop();
                Err(error.into())
            }
        }
    }

    /// Ends the transaction with `end` and resets the session in one
    /// message, whose last row counts the prepared statements raw SQL made;
    /// with `prefix` (see [`Running::commit_prefix`]), whose first row is
    /// the rows written. Closes the connection unless the reset succeeded
    /// and found none.
    async fn end_and_reset(&mut self, end: TxEnd, prefix: Option<String>) -> Result<Option<u64>> {
        // The message ends with `BEGIN`, which keeps sqlx's count of open
        // transactions true; the `ROLLBACK` of that empty transaction is
        // queued below and sent with the pool's check of the returned
        // connection, so it costs no round trip of its own.
        let reset = end_and_reset_sql(end, Leftovers::Count);
        let result = match &prefix {
            Some(prefix) => {
                sqlx::raw_sql(AssertSqlSafe(format!("{prefix}{reset}")))
                    .fetch_all(&mut *self.conn)
                    .await
            }
            None => sqlx::raw_sql(reset).fetch_all(&mut *self.conn).await,
        };
        self.open = false;
        let clean = match &result {
            Ok(rows) => rows
                .last()
                .and_then(|row| row.try_get::<i64, _>(0).ok())
                .is_some_and(|prepared| prepared == 0),
            Err(_) => false,
        };
        if clean {
            PgTransactionManager::start_rollback(&mut self.conn);
        } else {
            self.conn.close_on_drop();
        }
        let rows = result?;
        Ok(prefix.and_then(|_| rows_written(rows.first())))
    }
}

/// The rows written, from the first row of a `COMMIT` message that counted
/// them; `None` if unknown.
fn rows_written(row: Option<&sqlx::postgres::PgRow>) -> Option<u64> {
    let written = row?.try_get::<Option<i64>, _>(0).ok()??;
    u64::try_from(written).ok()
}

impl<K> Drop for TenantTx<K> {
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            meter.end(&self.tenant, TxOutcome::Abandoned, None);
        }
        if self.open {
            if self.raw {
                // Raw SQL may have changed the session, and a queued
                // ROLLBACK cannot reset it.
                self.conn.close_on_drop();
                return;
            }
            // Queues ROLLBACK (one per open level, savepoints included); sqlx
            // sends it before the connection is handed out again.
            while PgTransactionManager::get_transaction_depth(&self.conn) > 0 {
                PgTransactionManager::start_rollback(&mut self.conn);
            }
        }
    }
}

impl<K: TenantIdType> RawConnection for TenantTx<K> {
    fn dangerous_raw_connection(&mut self) -> &mut PgConnection {
        self.raw = true;
        &mut self.conn
    }
}

impl<K: TenantIdType> fmt::Debug for TenantTx<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", self.tenant.id_ref())
            .field("open", &self.open)
            .field("raw", &self.raw)
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
