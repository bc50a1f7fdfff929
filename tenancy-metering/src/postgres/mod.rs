//! Usage in PostgreSQL: [`UsageStore`], rollups, hourly and daily per
//! tenant, for billing, quotas and reports.
//!
//! The table is append-only: a flush inserts what the ledger counted since
//! the last flush, as rows of the current hour; [`UsageStore::roll_up`]
//! adds one row per tenant, metric and finished day; [`UsageStore::prune`]
//! deletes rows past their retention. Nothing updates a row (a trigger
//! refuses it), so a report is a sum, and a flush that failed can be
//! retried without counting anything twice.
//!
//! The table is under row-level security like any tenant table. The
//! flusher's role may insert the usage of every tenant (a flush writes them
//! all at once) and read none; the application role reads only the usage
//! of the tenant its transaction is bound to (a "your usage" page) and
//! writes none, so code inside one tenant's transaction cannot charge
//! another. Rolling up, pruning and reports across tenants are for the
//! table's owner, the operator (the `tenancy usage` command).
//!
//! The [`UsageLedger`](crate::UsageLedger) is also a
//! [`TxObserver`](tenancy_sqlx::TxObserver): give it to a
//! [metered](tenancy_sqlx::TenantPool::metered) `TenantPool` and it counts
//! every tenant's transactions, their time and the rows they wrote.
//!
//! [`StorageMeter`] measures rows and bytes per tenant in the tenant
//! tables: every tenant at once as the owner (exactly, or from a sample of
//! pages), or one tenant inside its own transaction.

use tenancy_core::rls::InvalidName;

mod pool_observer;
mod storage;
mod store;

pub use storage::{StorageMeter, TenantStorage};
pub use store::{Granularity, UsageLine, UsageStore};

/// An error of the usage store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The database refused or could not be reached.
    #[error("usage store: {0}")]
    Database(#[from] sqlx::Error),
    /// A table, schema or setting name is not a valid identifier.
    #[error("usage store: {0}")]
    Name(#[from] InvalidName),
    /// The role that writes every tenant's usage is also the role that
    /// reads it (the application role).
    #[error(
        "usage store: `{0}` cannot both write every tenant's usage and serve tenants: give the flusher a role of its own"
    )]
    SharedRole(String),
}
