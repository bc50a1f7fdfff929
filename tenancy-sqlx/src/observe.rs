//! [`TxMeter`]: what each tenant's transactions cost, reported to a
//! [`TxObserver`] when they end.
//!
//! A pool [`metered`](crate::TenantPool::metered) with a `TxMeter` reports
//! every transaction it began, once, when it ends: its tenant, its time,
//! how it ended and (with [`TxMeter::rows_written_in`]) the rows it wrote.
//! `tenancy-metering`'s `UsageLedger` is such an observer.
//!
//! # Rows written, from PostgreSQL's own statistics
//!
//! sqlx does not tell an `INSERT`'s row count from a `SELECT`'s, and raw
//! SQL, triggers and `MERGE` write rows the SDK never sees. So the rows
//! come from PostgreSQL: its per-transaction statistics
//! (`pg_stat_get_xact_tuples_inserted`, `_updated`, `_deleted`) of the
//! tables you name. Those also hold what earlier transactions of the same
//! connection wrote until the server flushes them (at most once a second),
//! so the meter reads them twice: in the `BEGIN` message and in the
//! `COMMIT` message, and reports the difference. No extra round trip; the
//! cost is measured in `BENCHMARKS.md`.
//!
//! - Tables are resolved in each transaction by the search path, so in
//!   schema-per-tenant mode `orders` is the tenant's own `orders`.
//! - Rows are reported for committed transactions only. A table that does
//!   not resolve, or raw SQL that ended the transaction itself (a raw
//!   `COMMIT`), gives [`TxReport::rows_written`] `None`, never a guess.
//! - Rows written to a partitioned table count in its partitions: name
//!   those.
//! - The count is for usage and billing, not a wall between tenants: it
//!   is kept in a transaction-local setting (`tenancy.rows_written_before`)
//!   that raw SQL in the same transaction could change. A tenant's rows
//!   are charged to that tenant whichever path wrote them, and another
//!   tenant's transaction starts from its own figure.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenancy_core::Tenant;
use tenancy_core::rls::{Ident, InvalidName};
use uuid::Uuid;

/// Receives the end of every transaction of a
/// [`metered`](crate::TenantPool::metered) pool.
///
/// Called synchronously where the transaction ends, including in `Drop`:
/// keep it short and never block (count in memory, flush elsewhere). A
/// closure is an observer too:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tenancy_sqlx::{TxMeter, TxReport};
///
/// let committed = Arc::new(AtomicU64::new(0));
/// let seen = committed.clone();
/// let meter = TxMeter::new(move |report: &TxReport<'_>| {
///     if report.outcome.is_committed() {
///         seen.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// # let _ = meter;
/// ```
pub trait TxObserver<K = Uuid>: Send + Sync {
    /// `report`'s transaction ended.
    fn transaction_ended(&self, report: &TxReport<'_, K>);
}

impl<K, F> TxObserver<K> for F
where
    F: Fn(&TxReport<'_, K>) + Send + Sync,
{
    fn transaction_ended(&self, report: &TxReport<'_, K>) {
        self(report);
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxOutcome {
    /// [`commit`](crate::TenantTx::commit) succeeded.
    Committed,
    /// [`rollback`](crate::TenantTx::rollback) succeeded.
    RolledBack,
    /// `commit` or `rollback` returned an error: nothing was committed.
    Failed,
    /// Dropped without `commit` or `rollback` (an early return, a panic, a
    /// cancelled future): rolled back.
    Abandoned,
}

impl TxOutcome {
    /// Whether the transaction committed.
    pub fn is_committed(self) -> bool {
        self == Self::Committed
    }
}

/// One ended transaction, as a [`TxObserver`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct TxReport<'a, K = Uuid> {
    /// The tenant the transaction was bound to.
    pub tenant: &'a Tenant<K>,
    /// From `BEGIN` (after the connection was acquired) to the end.
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: TxOutcome,
    /// Rows it inserted, updated or deleted in the tables of
    /// [`TxMeter::rows_written_in`]: `Some` only for a committed
    /// transaction of a meter that counts rows, and only when every table
    /// resolved.
    pub rows_written: Option<u64>,
}

/// What a [`metered`](crate::TenantPool::metered) pool reports, and to
/// whom. Cheap to clone (shared).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// use std::sync::{Arc, Mutex};
/// use tenancy_sqlx::{TenantPool, TxMeter, TxReport};
///
/// let rows = Arc::new(Mutex::new(Vec::new()));
/// let log = rows.clone();
/// let meter = TxMeter::new(move |report: &TxReport<'_>| {
///     log.lock().unwrap().push(report.rows_written);
/// })
/// .rows_written_in(["orders"])?;
/// let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?).metered(meter);
///
/// let mut tx = pool.begin(&acme).await?;
/// sqlx::query("INSERT INTO orders (item) SELECT 'pizza' FROM generate_series(1, 3)")
///     .execute(&mut tx)
///     .await?;
/// tx.commit().await?;
/// assert_eq!(*rows.lock().unwrap(), [Some(3)]);
/// # Ok(()) }
/// ```
pub struct TxMeter<K = Uuid> {
    observer: Arc<dyn TxObserver<K>>,
    /// The expression that sums the rows written to the named tables, if
    /// rows are counted.
    rows_sql: Option<Arc<str>>,
}

impl<K> Clone for TxMeter<K> {
    fn clone(&self) -> Self {
        Self {
            observer: self.observer.clone(),
            rows_sql: self.rows_sql.clone(),
        }
    }
}

impl<K> fmt::Debug for TxMeter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxMeter")
            .field("rows_sql", &self.rows_sql)
            .finish_non_exhaustive()
    }
}

/// The transaction-local setting that keeps the statistics read at `BEGIN`.
const BEFORE: &str = "tenancy.rows_written_before";

impl<K: 'static> TxMeter<K> {
    /// Reports every transaction's tenant, time and outcome to `observer`.
    pub fn new(observer: impl TxObserver<K> + 'static) -> Self {
        Self {
            observer: Arc::new(observer),
            rows_sql: None,
        }
    }

    /// Also counts the rows each committed transaction inserted, updated
    /// or deleted in `tables` (names as in SQL, optionally
    /// schema-qualified; [`observe`](crate::observe) says how).
    ///
    /// # Errors
    /// [`InvalidName`] for a name that is not a plain SQL identifier.
    pub fn rows_written_in<S: AsRef<str>>(
        mut self,
        tables: impl IntoIterator<Item = S>,
    ) -> Result<Self, InvalidName> {
        let tables = tables
            .into_iter()
            .map(|table| Ident::new(table.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.rows_sql = Some(rows_written_sql(&tables).into());
        Ok(self)
    }

    /// The `BEGIN` message's addition that keeps the statistics read at
    /// `BEGIN`, if rows are counted.
    pub(crate) fn begin_suffix(&self) -> Option<String> {
        let rows = self.rows_sql.as_deref()?;
        Some(format!(
            "; SELECT set_config('{BEFORE}', coalesce(({rows})::text, ''), true)"
        ))
    }

    /// Starts measuring a transaction that just began.
    pub(crate) fn start(&self) -> Running<K> {
        Running {
            observer: self.observer.clone(),
            started: Instant::now(),
            rows_sql: self.rows_sql.clone(),
        }
    }
}

/// The sum of PostgreSQL's per-transaction counts of rows inserted,
/// updated and deleted in `tables`, `NULL` unless every table resolves
/// (the counting functions are strict). A scalar expression, not an
/// aggregate over the tables: half the server time.
fn rows_written_sql(tables: &[Ident]) -> String {
    let per_table = tables
        .iter()
        .map(|table| {
            let r = format!("to_regclass('{}')", table.sql());
            format!(
                "pg_stat_get_xact_tuples_inserted({r}) + pg_stat_get_xact_tuples_updated({r}) \
                 + pg_stat_get_xact_tuples_deleted({r})"
            )
        })
        .collect::<Vec<_>>()
        .join(" + ");
    if per_table.is_empty() {
        return "SELECT 0::int8".to_owned();
    }
    format!("SELECT ({per_table})::int8")
}

/// A transaction being measured: reports to its observer once, when it
/// ends.
pub(crate) struct Running<K> {
    observer: Arc<dyn TxObserver<K>>,
    started: Instant,
    rows_sql: Option<Arc<str>>,
}

impl<K> Running<K> {
    /// What the `COMMIT` message starts with when rows are counted: a
    /// statement whose one row is the rows this transaction wrote (`NULL`
    /// if unknown), after the deferred constraints (and their triggers)
    /// ran.
    pub(crate) fn commit_prefix(&self) -> Option<String> {
        let rows = self.rows_sql.as_deref()?;
        Some(format!(
            "SET CONSTRAINTS ALL IMMEDIATE; \
             SELECT ({rows}) - nullif(current_setting('{BEFORE}', true), '')::int8; "
        ))
    }

    /// Reports the end of `tenant`'s transaction (`rows_written` is only
    /// ever read by a commit).
    pub(crate) fn end(self, tenant: &Tenant<K>, outcome: TxOutcome, rows_written: Option<u64>) {
        self.observer.transaction_ended(&TxReport {
            tenant,
            elapsed: self.started.elapsed(),
            outcome,
            rows_written,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_summed_over_every_named_table_and_unknown_unless_all_resolve() {
        let tables = [Ident::new("orders"), Ident::new("billing.invoices")]
            .map(|t| t.unwrap_or_else(|e| unreachable!("{e}")));
        let sql = rows_written_sql(&tables);
        for table in [r#"'"orders"'"#, r#"'"billing"."invoices"'"#] {
            for count in ["inserted", "updated", "deleted"] {
                let call = format!("pg_stat_get_xact_tuples_{count}(to_regclass({table}))");
                assert_eq!(sql.matches(&call).count(), 1, "{call} in {sql}");
            }
        }
    }

    #[test]
    fn only_a_commit_is_committed() {
        assert!(TxOutcome::Committed.is_committed());
        for other in [
            TxOutcome::RolledBack,
            TxOutcome::Failed,
            TxOutcome::Abandoned,
        ] {
            assert!(!other.is_committed(), "{other:?}");
        }
    }

    #[test]
    fn no_tables_means_no_rows_not_a_broken_statement() {
        assert_eq!(rows_written_sql(&[]), "SELECT 0::int8");
    }

    #[test]
    fn names_that_are_not_identifiers_are_refused() {
        let meter = TxMeter::<Uuid>::new(|_: &TxReport<'_>| {});
        assert!(
            meter
                .clone()
                .rows_written_in(["orders'); DROP TABLE x; --"])
                .is_err()
        );
        assert!(meter.rows_written_in(["Orders"]).is_err());
    }
}
