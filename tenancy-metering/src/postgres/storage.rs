//! [`StorageMeter`]: rows and bytes per tenant in the tenant tables.

use sqlx::{Executor, PgPool, Postgres};
use tenancy_core::rls::Ident;

use super::UsageError;

/// A tenant's storage: its rows and their bytes (row data as PostgreSQL
/// stores it, `pg_column_size` of each row: compressed values included,
/// indexes not; it can vary by a few bytes from one query plan to
/// another).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantStorage {
    /// The tenant's id, as PostgreSQL prints it.
    pub tenant: String,
    /// Rows in the tenant tables.
    pub rows: u64,
    /// Bytes of those rows.
    pub bytes: u64,
}

/// Measures storage per tenant in a set of tenant tables.
///
/// - [`measure_all`](Self::measure_all), as the tables' owner: one grouped
///   scan per table for every tenant at once, or a sample of the table's
///   pages ([`TABLESAMPLE SYSTEM`](https://www.postgresql.org/docs/15/sql-select.html#SQL-FROM)),
///   scaled up, when the tables are too big to scan often.
/// - [`measure_tenant`](Self::measure_tenant), inside one tenant's
///   transaction (row-level security shows it only its own rows): what the
///   application itself can measure, for example to feed
///   [`QuotaLayer::set_storage`](crate::QuotaLayer::set_storage).
///
/// Through a role under row-level security without a bound tenant, every
/// measurement is empty: nothing is counted for a tenant it cannot see.
#[derive(Debug, Clone)]
pub struct StorageMeter {
    tables: Vec<(Ident, Ident)>,
}

impl StorageMeter {
    /// Measures `tables`, each `(table, tenant column)`; a table is `name`
    /// or `schema.name`.
    pub fn new<'a>(
        tables: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, UsageError> {
        let tables = tables
            .into_iter()
            .map(|(table, column)| Ok((Ident::new(table)?, Ident::new(column)?)))
            .collect::<Result<Vec<_>, UsageError>>()?;
        Ok(Self { tables })
    }

    /// Every ordinary or partitioned table outside the system schemas
    /// that has a column named `tenant_column` (the leaves of partitioned
    /// tables are measured through their parent).
    pub async fn discover(pool: &PgPool, tenant_column: &str) -> Result<Self, UsageError> {
        let column = Ident::new(tenant_column)?;
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_%' \
             ORDER BY 1, 2",
        )
        .bind(column.as_str())
        .fetch_all(pool)
        .await?;
        let tables = found
            .iter()
            .map(|(schema, table)| Ok((Ident::new(&format!("{schema}.{table}"))?, column.clone())))
            .collect::<Result<Vec<_>, UsageError>>()?;
        Ok(Self { tables })
    }

    /// The tables measured, as `schema.table` or `table`.
    pub fn tables(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|(table, _)| table.as_str())
    }

    /// Every tenant's storage, ordered by tenant, through `pool` (as the
    /// tables' owner, or a role that bypasses row-level security).
    ///
    /// With `sample_percent` (0 < p ≤ 100), each table is read through
    /// `TABLESAMPLE SYSTEM (p)` (p percent of its pages, chosen at random)
    /// and the counts are scaled by 100 / p: an estimate, cheaper by about
    /// the same factor, good for tenants with many rows and poor for
    /// tenants with a few (which may not be seen at all).
    pub async fn measure_all(
        &self,
        pool: &PgPool,
        sample_percent: Option<f64>,
    ) -> Result<Vec<TenantStorage>, UsageError> {
        if self.tables.is_empty() {
            return Ok(Vec::new());
        }
        let (sample, scale) = match sample_percent {
            Some(p) if p > 0.0 && p < 100.0 => (format!(" TABLESAMPLE SYSTEM ({p})"), 100.0 / p),
            _ => (String::new(), 1.0),
        };
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|(table, column)| {
                format!(
                    "SELECT t.{column}::text AS tenant, count(*)::float8 AS n, \
                     coalesce(sum(pg_column_size(t.*)), 0)::float8 AS b \
                     FROM {table} t{sample} GROUP BY 1",
                    table = table.sql(),
                    column = column.sql()
                )
            })
            .collect();
        let sql = format!(
            "SELECT tenant, round(sum(n) * $1)::int8, round(sum(b) * $1)::int8 \
             FROM ({}) s WHERE tenant IS NOT NULL GROUP BY 1 ORDER BY 1",
            parts.join(" UNION ALL ")
        );
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(scale)
            .fetch_all(pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(tenant, rows, bytes)| TenantStorage {
                tenant,
                rows: u64::try_from(rows).unwrap_or(0),
                bytes: u64::try_from(bytes).unwrap_or(0),
            })
            .collect())
    }

    /// The storage the executor can see, summed over the tables: inside a
    /// tenant's transaction, that tenant's (`(rows, bytes)`).
    pub async fn measure_tenant<'c, E>(&self, executor: E) -> Result<(u64, u64), UsageError>
    where
        E: Executor<'c, Database = Postgres>,
    {
        if self.tables.is_empty() {
            return Ok((0, 0));
        }
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|(table, _)| {
                format!(
                    "SELECT count(*) AS n, coalesce(sum(pg_column_size(t.*)), 0) AS b FROM {} t",
                    table.sql()
                )
            })
            .collect();
        let sql = format!(
            "SELECT sum(n)::int8, sum(b)::int8 FROM ({}) s",
            parts.join(" UNION ALL ")
        );
        let (rows, bytes): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(executor)
            .await?;
        Ok((
            u64::try_from(rows).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }
}
