//! Exporting all of a tenant's rows as JSON lines.

use futures_util::TryStreamExt as _;
use sqlx::AssertSqlSafe;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::TenantTables;
use crate::{Error, Result, TenantTx};

/// Writes every row of the transaction's tenant, from every tenant table
/// ([`TenantTables`]), to `out` as JSON lines:
///
/// ```text
/// {"table":"public.orders","row":{"id":"...","tenant_id":"...","item":"Burger"}}
/// ```
///
/// Rows are streamed from the database, never collected in memory, so an
/// export of millions of rows runs in constant memory. For data
/// portability and GDPR access requests. Returns rows per table.
///
/// ```no_run
/// # async fn demo(pool: tenancy_sqlx::TenantPool, acme: tenancy_core::Tenant) -> tenancy_sqlx::Result<()> {
/// let file = tokio::fs::File::create("acme.jsonl").await.map_err(tenancy_sqlx::Error::Io)?;
/// let mut tx = pool.begin(&acme).await?;
/// let counts = tenancy_sqlx::lifecycle::export_rows(&mut tx, "tenant_id", file).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub async fn export_rows<W: AsyncWrite + Unpin>(
    tx: &mut TenantTx,
    column: &str,
    mut out: W,
) -> Result<Vec<(String, u64)>> {
    let tables = TenantTables::discover(tx.conn(), column).await?;
    let tenant = tx.tenant().id();
    let mut counts = Vec::new();
    for table in tables.tables() {
        let sql = format!(
            "SELECT json_build_object('table', $2::text, 'row', to_jsonb(t))::text \
             FROM {table} t WHERE {} = $1",
            tables.column()
        );
        let mut rows = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
            .bind(tenant.as_uuid())
            .bind(table.as_str())
            .fetch(tx.conn());
        let mut n = 0_u64;
        while let Some(line) = rows.try_next().await? {
            out.write_all(line.as_bytes()).await.map_err(Error::Io)?;
            out.write_all(b"\n").await.map_err(Error::Io)?;
            n += 1;
        }
        counts.push((table.as_str().to_owned(), n));
    }
    out.flush().await.map_err(Error::Io)?;
    Ok(counts)
}
