//! [`JobRejected`]: why a job did not run.

use tenancy_core::StoreError;

/// Why [`TenantJobLayer`](crate::TenantJobLayer) refused to run a job. The
/// job never ran: not under another tenant, not without one.
///
/// The layer hands it to apalis wrapped in `AbortError` (no retry: the
/// envelope will not become valid) except
/// [`StoreUnavailable`](Self::StoreUnavailable) and [`Moving`](Self::Moving),
/// which are retried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobRejected {
    /// The envelope names a tenant the store does not know.
    #[error("job refused: its tenant {0} does not exist")]
    UnknownTenant(String),
    /// The tenant exists but may not be served (suspended).
    #[error("job refused: its tenant {tenant} is {status}")]
    Inactive {
        /// The tenant's id.
        tenant: String,
        /// Its status.
        status: tenancy_core::TenantStatus,
    },
    /// The tenant's data is being moved and its writes are frozen
    /// ([`TenantStatus::Moving`](tenancy_core::TenantStatus::Moving)); the
    /// job is retried, and runs once the move is done.
    #[error("job not run yet: the data of its tenant {0} is being moved")]
    Moving(String),
    /// The tenant store could not answer; the job is retried.
    #[error("job not run yet: the tenant store could not answer: {0}")]
    StoreUnavailable(#[source] StoreError),
    /// A sealed envelope whose seal does not hold: its tenant or payload
    /// was changed, or it was sealed with an unknown key.
    #[cfg(feature = "sealed")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sealed")))]
    #[error("job refused: {0}")]
    Seal(#[from] tenancy_core::sealed_job::SealError),
}
