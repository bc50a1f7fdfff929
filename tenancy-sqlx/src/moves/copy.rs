//! Copying one tenant's rows from one tenant transaction to another, and
//! the checksums that prove the copy.

use futures_util::TryStreamExt as _;
use sqlx::AssertSqlSafe;
use tenancy_core::rls::Ident;

use crate::lifecycle::TenantTables;
use crate::{Error, PgTenantId, Result, TenantTx};

/// Rows per `INSERT` at the destination.
const BATCH: usize = 500;

/// One table's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableCopy {
    /// The table's name, without its schema (the same on both sides).
    pub table: String,
    /// Rows copied.
    pub rows: u64,
    /// `md5` over the `md5` of each row's text, in their order: the same
    /// on both sides.
    pub checksum: String,
}

/// A table's name without its schema.
fn unqualified(table: &Ident) -> &str {
    let name = table.as_str();
    name.rsplit_once('.').map_or(name, |(_, table)| table)
}

/// Copies every tenant table of `source`'s tenant into `destination`
/// (parents first) and checks each: same count, same checksum.
pub(super) async fn copy_tables<K: PgTenantId>(
    source: &mut TenantTx<K>,
    destination: &mut TenantTx<K>,
    column: &str,
) -> Result<Vec<TableCopy>> {
    let from = TenantTables::discover(source.conn(), column).await?;
    let to = TenantTables::discover(destination.conn(), column).await?;
    let mut copies = Vec::new();
    // `TenantTables` lists referencing tables first: copy in reverse.
    for table in from.tables().iter().rev() {
        let name = unqualified(table);
        let (rows, checksum) = checksum_of(source, table, from.column()).await?;
        let Some(target) = to.tables().iter().find(|t| unqualified(t) == name) else {
            if rows == 0 {
                continue;
            }
            return Err(Error::Move(
                "a table of the tenant's has no twin at the destination: migrate the destination first",
            ));
        };
        let (already, _) = checksum_of(destination, target, to.column()).await?;
        if already > 0 {
            return Err(Error::Move(
                "the destination already holds rows of this tenant (a failed earlier move?): delete them there first",
            ));
        }
        copy_table(source, destination, table, target, from.column()).await?;
        let written = checksum_of(destination, target, to.column()).await?;
        if written != (rows, checksum.clone()) {
            return Err(Error::Move(
                "the copy does not match the source (row count or checksum): are the tables' columns the same on both sides?",
            ));
        }
        copies.push(TableCopy {
            table: name.to_owned(),
            rows,
            checksum,
        });
    }
    Ok(copies)
}

/// Whether the tables of `tx`'s tenant still hold what `copies` says.
pub(super) async fn checksums_match<K: PgTenantId>(
    tx: &mut TenantTx<K>,
    column: &str,
    copies: &[TableCopy],
) -> Result<bool> {
    let tables = TenantTables::discover(tx.conn(), column).await?;
    for table in tables.tables() {
        let now = checksum_of(tx, table, tables.column()).await?;
        let then = copies
            .iter()
            .find(|c| c.table == unqualified(table))
            .map_or((0, String::new()), |c| (c.rows, c.checksum.clone()));
        // A table without rows has the empty checksum on both counts.
        if now != then {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Row count and checksum of the tenant's rows in `table`.
async fn checksum_of<K: PgTenantId>(
    tx: &mut TenantTx<K>,
    table: &Ident,
    column: &Ident,
) -> Result<(u64, String)> {
    let sql = format!(
        "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') \
         FROM (SELECT md5(t::text) AS h FROM {table} AS t WHERE t.{column} = $1) AS rows"
    );
    let tenant = tx.tenant().id();
    let (rows, sum): (i64, String) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(tenant.value())
        .fetch_one(tx.conn())
        .await?;
    Ok((u64::try_from(rows).unwrap_or(0), sum))
}

/// The rows of `table` (source) into `target` (destination), in batches,
/// as JSON: every column the destination may be given (not generated).
async fn copy_table<K: PgTenantId>(
    source: &mut TenantTx<K>,
    destination: &mut TenantTx<K>,
    table: &Ident,
    target: &Ident,
    column: &Ident,
) -> Result<()> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(attname) FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' \
         ORDER BY attnum",
    )
    .bind(target.sql())
    .fetch_all(destination.conn())
    .await?;
    let columns = columns.join(", ");
    let insert = format!(
        "INSERT INTO {target} ({columns}) OVERRIDING SYSTEM VALUE \
         SELECT {columns} FROM json_populate_recordset(NULL::{target}, $1::json)"
    );
    let select = format!("SELECT row_to_json(t)::text FROM {table} AS t WHERE t.{column} = $1");
    let tenant = source.tenant().id();
    let mut batches = sqlx::query_scalar::<_, String>(AssertSqlSafe(select))
        .bind(tenant.value())
        .fetch(source.conn())
        .try_chunks(BATCH);
    while let Some(batch) = batches.try_next().await.map_err(|e| e.1)? {
        let json = format!("[{}]", batch.join(","));
        sqlx::query(AssertSqlSafe(insert.as_str()))
            .bind(json)
            .execute(destination.conn())
            .await?;
    }
    Ok(())
}
