//! The error type of `tenancy-sqlx`.

use tenancy_core::TenantError;
use tenancy_core::rls::InvalidName;

/// Everything that can go wrong in `tenancy-sqlx`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No tenant, an inactive tenant, or a malformed tenant id.
    #[error(transparent)]
    Tenant(#[from] TenantError),

    /// The database reported an error (including row-level security
    /// refusing a write: "new row violates row-level security policy").
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// A table, column or setting name cannot be written into SQL.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),

    /// A scoped write tried to set the tenant column from a value.
    #[error(
        "column {column:?} is the tenant column of {table:?}: it is always filled from the bound \
         tenant and can never be set or changed by a query"
    )]
    TenantColumn {
        /// The table.
        table: &'static str,
        /// The tenant column.
        column: &'static str,
    },

    /// An update without any `set`.
    #[error("an update needs at least one `.set(column, value)`")]
    EmptyUpdate,

    /// A set of migrations is malformed (duplicate version, unreadable
    /// file, file name not `<version>_<description>.sql`).
    #[error("invalid migrations: {0}")]
    Migrations(String),

    /// A migration failed in one tenant schema; it was rolled back, and
    /// the schema stays at the version before it.
    #[error("migration {version} failed in schema {schema}: {source}")]
    Migration {
        /// The tenant schema.
        schema: tenancy_core::SchemaName,
        /// The version of the failed migration.
        version: i64,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },

    /// The router knows no target for the tenant: it is not served (never a
    /// default target by accident).
    #[error(
        "no connection target for tenant {tenant}: give it a target in its placement, \
         the shard map, or a default target"
    )]
    NoTarget {
        /// The tenant's id.
        tenant: String,
    },

    /// A routed tenant's target has no connection options.
    #[error("unknown connection target {0}: configure it on the routed pool")]
    UnknownTarget(tenancy_core::TargetName),

    /// The tenant's target failed (down, refusing connections, timed out);
    /// tenants on other targets are not affected.
    #[error("connection target {target} failed: {source}")]
    Target {
        /// The target.
        target: tenancy_core::TargetName,
        /// What failed.
        #[source]
        source: Box<Error>,
    },

    /// Sessions of a sealed tenant's role stayed open while it was being
    /// unsealed (the manager role could not end them).
    #[error(
        "sessions of sealed role {role} are still open; close the tenant's pool or grant the \
         manager pg_signal_backend, then unseal again"
    )]
    SealedSessionsOpen {
        /// The login role.
        role: String,
    },

    /// A sealed tenant's pool could not be configured: the routed pool has
    /// no sealed logins.
    #[error(
        "tenant {tenant} is sealed, but this routed pool has no sealed logins \
         (RoutedPoolBuilder::sealed_logins)"
    )]
    NoSealedLogins {
        /// The tenant's id.
        tenant: String,
    },

    /// Every open pool is in use and the cap on open pools is reached.
    #[error("all {max} open pools are in use; raise max_open_pools or add capacity")]
    TooManyPools {
        /// The cap.
        max: usize,
    },

    /// The tenant already holds its maximum of connections, and none was
    /// released in time.
    #[error("tenant {tenant} already uses its maximum of {max} connections; retry later")]
    TenantBusy {
        /// The tenant's id.
        tenant: String,
        /// Its cap.
        max: u32,
    },

    /// Writing an export failed.
    #[error("could not write the export: {0}")]
    Io(#[source] std::io::Error),

    /// The operation needs something this value was not configured with.
    #[error("not configured: {0}")]
    Unsupported(&'static str),

    /// A tenant move was refused or could not finish; the tenant stays
    /// where it was ([`moves`](crate::moves)).
    #[error("cannot move the tenant: {0}")]
    Move(&'static str),

    /// The tenant store could not answer.
    #[error("the tenant store: {0}")]
    Store(#[from] tenancy_core::StoreError),

    /// An admin session was asked for without an actor or a reason.
    #[error("admin access needs {0}")]
    AdminAccess(&'static str),

    /// A value could not be encoded for PostgreSQL.
    #[error("could not encode the value for column {column:?}: {source}")]
    Encode {
        /// The column.
        column: &'static str,
        /// Why encoding failed.
        #[source]
        source: sqlx::error::BoxDynError,
    },
}

/// `Result<T, tenancy_sqlx::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
