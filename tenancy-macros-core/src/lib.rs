//! The checker behind `tenancy_sqlx::query!`: proves, at compile time, that
//! every tenant table a PostgreSQL statement reads or writes is filtered to
//! the tenant, and rewrites the statement for sqlx.
//!
//! Used by the `tenancy-macros` proc-macro crate, and usable on its own
//! (a linter, a build script):
//!
//! ```
//! use tenancy_macros_core::{Manifest, TableEntry, scope_sql};
//!
//! let manifest = Manifest::new(vec![
//!     TableEntry::tenant("public", "orders", "tenant_id"),
//!     TableEntry::tenant("public", "order_lines", "tenant_id"),
//! ]);
//! let ok = scope_sql(
//!     "SELECT o.id, count(*) FROM orders o JOIN order_lines l \
//!      ON l.tenant_id = o.tenant_id AND l.order_id = o.id \
//!      WHERE o.tenant_id = $tenant AND o.total > $1 GROUP BY o.id",
//!     &manifest,
//!     1,
//! )?;
//! // Tables are schema-qualified (a temporary table cannot shadow them) and
//! // `$tenant` becomes the parameter after the caller's.
//! assert!(ok.sql.contains("FROM public.orders o JOIN public.order_lines l"));
//! assert!(ok.sql.contains("o.tenant_id = $2"));
//! assert_eq!(ok.tenant_param, Some(2));
//!
//! let err = scope_sql(
//!     "SELECT * FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.tenant_id = $tenant",
//!     &manifest,
//!     0,
//! )
//! .unwrap_err();
//! assert!(err.message().starts_with(
//!     "`order_lines` (alias `l`) is not scoped to the tenant: add `l.tenant_id = $tenant` or join it on `l.tenant_id = o.tenant_id`"
//! ));
//! # Ok::<(), tenancy_macros_core::CheckError>(())
//! ```
//!
//! # The rule
//!
//! A reference to a tenant table is *scoped* when its tenant column is
//! equated with `$tenant`, or with the tenant column of a scoped
//! reference, in a top-level `AND` conjunct of a condition that filters
//! it: the `WHERE` of its query level, the `ON` of an inner join it is part
//! of, or its own `ON` on the nullable side of an outer join. `USING
//! (tenant_id, ...)` counts as the equality. A condition under `OR`, in
//! `HAVING`, or anything else proves nothing. Subqueries (`IN`, `EXISTS`,
//! scalar, `LATERAL`), CTEs (also recursive), set operations and the
//! `FROM`/`USING` lists of writes are checked level by level; correlated
//! references to a scoped outer table count. Writes must not set the tenant
//! column to anything but `$tenant`, and `ON CONFLICT DO UPDATE` must name
//! the tenant column. A table not in the [`Manifest`], and any construct the
//! checker does not follow, is refused: it never guesses.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod check;
mod error;
pub mod manifest;
mod rewrite;

pub use error::CheckError;
pub use manifest::{Manifest, ManifestError, TableEntry};

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// A statement the checker accepted, ready for sqlx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedSql {
    /// The SQL to run: manifest tables schema-qualified, `$tenant` replaced
    /// by a numbered parameter.
    pub sql: String,
    /// The number of the parameter that `$tenant` became (the caller's
    /// argument count plus one), or `None` when the statement reads only
    /// shared tables.
    pub tenant_param: Option<usize>,
    /// The type of the tenant column of every tenant table the statement
    /// names (`uuid`, `bigint`, `integer` or `text`), which is the type
    /// `$tenant` is bound as; `None` when it names no tenant table.
    pub id_type: Option<&'static str>,
}

/// Checks `sql` against `manifest`, for a call site that passes `args`
/// positional arguments (`$1` to `$args`), and rewrites it.
pub fn scope_sql(sql: &str, manifest: &Manifest, args: usize) -> Result<ScopedSql, CheckError> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| CheckError::new(format!("cannot parse the SQL: {e}")))?;
    let [statement] = statements.as_slice() else {
        return Err(CheckError::new(format!(
            "expected exactly one SQL statement, found {}",
            statements.len()
        )));
    };
    let placeholders = rewrite::placeholders(sql, args)?;
    let mut checker = check::Checker::new(manifest);
    checker.statement(statement)?;
    let id_type = match checker.id_types.len() {
        0 => None,
        1 => checker.id_types.first().copied(),
        _ => {
            let types: Vec<&str> = checker.id_types.iter().copied().collect();
            return Err(CheckError::new(format!(
                "the statement names tenant tables whose tenant columns have different types ({}): \
                 one application binds one tenant id type",
                types.join(", ")
            )));
        }
    };
    let mut scoped = rewrite::rewrite(sql, &placeholders, &checker.qualify)?;
    scoped.id_type = id_type;
    Ok(scoped)
}
