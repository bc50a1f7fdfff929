//! The harness error type.

use std::path::PathBuf;

/// What went wrong while starting or using a throwaway PostgreSQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The PostgreSQL server binaries were not found.
    #[error(
        "PostgreSQL server binaries (initdb, postgres, psql) were not found; searched {searched:?}. \
         Install them (Debian/Ubuntu: `apt-get install -y postgresql`), point TENANCY_PG_BIN at \
         their directory, or set DATABASE_URL to an existing server's administrator URL"
    )]
    BinariesMissing {
        /// The directories that were searched.
        searched: Vec<PathBuf>,
    },

    /// `pgbouncer` was not found.
    #[error(
        "pgbouncer was not found on PATH or in /usr/sbin; install it \
         (Debian/Ubuntu: `apt-get install -y pgbouncer`); the pooling tests need a real pgbouncer"
    )]
    PgBouncerMissing,

    /// The harness runs as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, but there is no `postgres` OS user to run PostgreSQL as \
         (PostgreSQL refuses to run as root); install the `postgresql` package, which creates it"
    )]
    NoPostgresUser,

    /// A file-system or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A PostgreSQL command (initdb, the server, psql) failed.
    #[error("{what} failed:\n{output}")]
    Command {
        /// What the harness was doing.
        what: String,
        /// The command's output, or the server log.
        output: String,
    },
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}
