//! The error type of `tenancy-diesel`.

use tenancy_core::TenantError;

/// Everything that can go wrong in `tenancy-diesel`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No tenant, an inactive tenant, or a malformed tenant id.
    #[error(transparent)]
    Tenant(#[from] TenantError),

    /// The database reported an error (including row-level security
    /// refusing a write: "new row violates row-level security policy").
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),

    /// No connection could be taken from the pool.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),

    /// No connection could be taken from the async pool.
    #[cfg(feature = "async")]
    #[error("no database connection available: {0}")]
    AsyncPool(String),

    /// A write named the tenant column: the transaction's tenant fills it,
    /// and rows never move between tenants.
    #[error(
        "the statement writes the tenant column {column:?}: leave it out, the transaction's tenant \
         fills it (its column default), and rows never move between tenants"
    )]
    TenantColumn {
        /// The tenant column.
        column: &'static str,
    },
}

/// `Result<T, tenancy_diesel::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
