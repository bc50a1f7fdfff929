//! Deleting all of a tenant's rows.

use sqlx::AssertSqlSafe;

use super::TenantTables;

use crate::{PgTenantId, Result, TenantTx};

/// What a deletion removed, or would remove (dry run): rows per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletionReport {
    /// `(schema.table, rows)`, in deletion order.
    pub tables: Vec<(String, u64)>,
    /// Whether this was a dry run (nothing deleted).
    pub dry_run: bool,
}

impl DeletionReport {
    /// Rows over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Deletes every row of the transaction's tenant from every tenant table
/// ([`TenantTables`]), in this transaction: commit it to make the deletion
/// happen, drop it to undo. With `dry_run`, counts the rows instead.
///
/// Both layers apply: the statements say `WHERE tenant_id = $1`, and row
/// security limits them to the tenant anyway.
pub async fn delete_rows<K: PgTenantId>(
    tx: &mut TenantTx<K>,
    column: &str,
    dry_run: bool,
) -> Result<DeletionReport> {
    let tables = TenantTables::discover(tx.conn(), column).await?;
    let tenant = tx.tenant().id();
    let mut report = DeletionReport {
        tables: Vec::new(),
        dry_run,
    };
    for table in tables.tables() {
        let sql = if dry_run {
            format!(
                "SELECT count(*) FROM {table} WHERE {} = $1",
                tables.column()
            )
        } else {
            format!(
                "WITH gone AS (DELETE FROM {table} WHERE {} = $1 RETURNING 1) SELECT count(*) FROM gone",
                tables.column()
            )
        };
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(tenant.value())
            .fetch_one(tx.conn())
            .await?;
        report
            .tables
            .push((table.as_str().to_owned(), u64::try_from(rows).unwrap_or(0)));
    }
    Ok(report)
}
