//! The manifest of tenant tables that the [`macros`](crate::macros) read:
//! write it from a live database, and verify it in a test so it cannot go
//! stale.
//!
//! ```
//! use tenancy_sqlx::manifest::{ManifestOptions, from_database, verify};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # let pool = sqlx::PgPool::connect(db.app_url()).await?;
//! # let path = std::env::temp_dir().join(format!("tenancy-doc-{}.manifest", std::process::id()));
//! # std::fs::write(&path, from_database(&pool, &ManifestOptions::default()).await?.to_string())?;
//! // In a test of the application's crate, against the migrated database:
//! verify(&pool, &path, &ManifestOptions::default()).await?;
//! # std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```
//!
//! A table is a tenant table when it has the tenant column (the same rule
//! as the [`audit`](crate::audit)); every other table of the listed schemas
//! is shared. Views are left out: the macros refuse them.

use std::fmt;
use std::path::Path;

pub use tenancy_macros_core::manifest::{FILE_NAME, Manifest, ManifestError, TableEntry};

/// What [`from_database`] reads.
#[derive(Debug, Clone)]
pub struct ManifestOptions {
    tenant_column: String,
    schemas: Vec<String>,
}

impl Default for ManifestOptions {
    /// Tenant column `tenant_id`; every schema but PostgreSQL's own.
    fn default() -> Self {
        Self {
            tenant_column: "tenant_id".to_owned(),
            schemas: Vec::new(),
        }
    }
}

impl ManifestOptions {
    /// The tenant column's name (default `tenant_id`).
    #[must_use]
    pub fn tenant_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.tenant_column);
        self
    }

    /// Reads only this schema (repeatable); by default, every schema but
    /// PostgreSQL's own.
    #[must_use]
    pub fn schema(mut self, schema: &str) -> Self {
        self.schemas.push(schema.to_owned());
        self
    }
}

/// The manifest of the database `conn` is connected to. Any role that can
/// read the system catalogs can run it; it changes nothing.
pub async fn from_database(
    conn: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    options: &ManifestOptions,
) -> Result<Manifest, sqlx::Error> {
    let mut conn = conn.acquire().await?;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text,
                (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped)
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND NOT c.relispartition
            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_%'
            AND (cardinality($2::text[]) = 0 OR n.nspname = ANY($2))
          ORDER BY 1, 2",
    )
    .bind(&options.tenant_column)
    .bind(&options.schemas)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Manifest::new(
        rows.into_iter()
            .map(|(schema, name, column_type)| match column_type {
                Some(column_type) => {
                    let entry = TableEntry::tenant(&schema, &name, &options.tenant_column);
                    // A tenant column of a type no tenant id has (numeric,
                    // ...) stays `uuid`: the macros then refuse to compile
                    // against it rather than bind the wrong type.
                    entry.clone().with_id_type(&column_type).unwrap_or(entry)
                }
                None => TableEntry::shared(&schema, &name),
            })
            .collect(),
    ))
}

/// How a manifest file differs from the database.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The database could not be read.
    #[error("cannot read the database's tables: {0}")]
    Database(#[from] sqlx::Error),
    /// The file and the database disagree.
    #[error("{0}")]
    Stale(Stale),
}

/// The differences between a manifest file and the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// Entries the database has and the file lacks (or has otherwise).
    pub missing: Vec<TableEntry>,
    /// Entries the file has and the database lacks (or has otherwise).
    pub extra: Vec<TableEntry>,
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |e: &TableEntry| match &e.tenant_column {
            Some(c) => format!("tenant {}.{} {c}", e.schema, e.name),
            None => format!("shared {}.{}", e.schema, e.name),
        };
        write!(
            f,
            "the tenancy manifest is stale; regenerate it with `tenancy manifest --database-url URL`."
        )?;
        for entry in &self.missing {
            write!(f, "\n  the database has:  {}", show(entry))?;
        }
        for entry in &self.extra {
            write!(f, "\n  the manifest says: {}", show(entry))?;
        }
        Ok(())
    }
}

/// Compares the manifest at `path` with the database.
pub async fn verify(
    conn: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    path: &Path,
    options: &ManifestOptions,
) -> Result<(), VerifyError> {
    let file = Manifest::load(path)?;
    let live = from_database(conn, options).await?;
    let stale = Stale {
        missing: live
            .tables()
            .iter()
            .filter(|t| !file.tables().contains(t))
            .cloned()
            .collect(),
        extra: file
            .tables()
            .iter()
            .filter(|t| !live.tables().contains(t))
            .cloned()
            .collect(),
    };
    if stale.missing.is_empty() && stale.extra.is_empty() {
        Ok(())
    } else {
        Err(VerifyError::Stale(stale))
    }
}
