//! Exporting all of a tenant's rows as JSON lines.

use futures_util::TryStreamExt as _;
use sqlx::AssertSqlSafe;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::TenantTables;

use crate::{Error, PgTenantId, Result, TenantTx};

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
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let pool = tenancy_sqlx::TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// # let path = std::env::temp_dir().join(format!("tenancy-doc-export-{}.jsonl", std::process::id()));
/// let file = tokio::fs::File::create(&path).await.map_err(tenancy_sqlx::Error::Io)?; // acme.jsonl
/// let mut tx = pool.begin(&acme).await?;
/// let counts = tenancy_sqlx::lifecycle::export_rows(&mut tx, "tenant_id", file).await?;
/// tx.commit().await?;
/// # assert_eq!(counts, [("public.orders".to_owned(), 0)]);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub async fn export_rows<K: PgTenantId, W: AsyncWrite + Unpin>(
    tx: &mut TenantTx<K>,
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
            .bind(tenant.value())
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
