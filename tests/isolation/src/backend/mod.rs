//! What the torture needs from a database layer, so the same run (and the
//! same checks) covers `tenancy-sqlx` and `tenancy-diesel` (diesel-async).

mod diesel;
mod sqlx;

use std::future::Future;

use tenancy_core::Tenant;
use uuid::Uuid;

pub use self::diesel::DieselAsync;
pub use self::sqlx::Sqlx;

/// An operation's error, as text (backends have different error types).
pub type BackendResult<T> = Result<T, String>;

/// How an insert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The commit succeeded.
    Committed,
    /// The commit failed: the write may or may not have landed.
    Ambiguous,
}

/// How a never-committed transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It sleeps 5 ms (so the caller can cancel it mid-flight).
    Sleep,
    /// It panics.
    Panic,
    /// A statement fails (division by zero).
    StatementError,
    /// It rolls back.
    Rollback,
}

/// The panic message of [`End::Panic`].
pub const INJECTED_PANIC: &str = "injected panic inside a tenant transaction";

/// One database layer under test.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A name for reports.
    fn name(&self) -> &'static str;

    /// Begins a tenant transaction, inserts a row tagged `op`, commits.
    /// `Err` when it failed before the commit (nothing landed).
    fn insert(
        &self,
        tenant: &Tenant,
        op: Uuid,
    ) -> impl Future<Output = BackendResult<Commit>> + Send;

    /// In one snapshot: the owners of every row a raw `SELECT` without
    /// `WHERE` returns, and the count the scoped builder returns.
    fn read(&self, tenant: &Tenant)
    -> impl Future<Output = BackendResult<(Vec<Uuid>, i64)>> + Send;

    /// From `tenant`'s transaction: how many of `victim`'s rows it sees, how
    /// many an `UPDATE` of them changes, and whether inserting a row for the
    /// victim succeeded.
    fn attack(
        &self,
        tenant: &Tenant,
        victim: &Tenant,
    ) -> impl Future<Output = BackendResult<(i64, u64, bool)>> + Send;

    /// Begins a tenant transaction, inserts `op`, then ends as `end` says.
    /// Never commits.
    fn uncommitted(
        &self,
        tenant: &Tenant,
        op: Uuid,
        end: End,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// A query without a tenant on the shared pool: the tenant setting it
    /// sees and the rows it sees.
    fn no_tenant(&self) -> impl Future<Output = BackendResult<(Option<String>, i64)>> + Send;

    /// Takes every connection of the pool at once; the tenant setting each
    /// carries.
    fn pooled_settings(&self) -> impl Future<Output = BackendResult<Vec<Option<String>>>> + Send;
}
