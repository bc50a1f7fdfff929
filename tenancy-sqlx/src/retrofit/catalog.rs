//! What the retrofit reads from the catalog: tables, their tenant column,
//! keys, unique indexes, foreign keys and views.

use sqlx::PgConnection;

/// A table in one of the retrofitted schemas.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) oid: i64,
    pub(super) schema: String,
    pub(super) name: String,
    /// The tenant column, if the table has one.
    pub(super) tenant: Option<TenantColumn>,
}

impl Table {
    /// `schema.name`, as the plan and its notes name it.
    pub(super) fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A table's tenant column.
#[derive(Debug, Clone)]
pub(super) struct TenantColumn {
    pub(super) attnum: i16,
    pub(super) not_null: bool,
    /// Its type, as `format_type` writes it.
    pub(super) column_type: String,
}

/// A primary key or unique constraint, or a unique index that backs none.
#[derive(Debug, Clone)]
pub(super) struct UniqueKey {
    pub(super) table: i64,
    pub(super) name: String,
    pub(super) kind: KeyKind,
    /// Its columns; `None` for an index on expressions or with a `WHERE`.
    pub(super) columns: Option<Vec<String>>,
    pub(super) has_tenant: bool,
}

/// What makes a [`UniqueKey`] unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Primary,
    Unique,
    Index,
}

/// A foreign key.
#[derive(Debug, Clone)]
pub(super) struct ForeignKey {
    pub(super) table: i64,
    pub(super) name: String,
    pub(super) target: i64,
    pub(super) columns: Vec<String>,
    pub(super) target_columns: Vec<String>,
    /// `pg_constraint.confdeltype` and `confupdtype`: a, r, c, n, d.
    pub(super) on_delete: String,
    pub(super) on_update: String,
    pub(super) deferrable: bool,
    pub(super) deferred: bool,
    /// Whether an index leads with its columns.
    pub(super) indexed: bool,
}

/// A view or materialized view that reads a table.
#[derive(Debug, Clone)]
pub(super) struct View {
    pub(super) qualified: String,
    pub(super) materialized: bool,
    pub(super) security_invoker: bool,
    pub(super) base: i64,
}

/// The ordered names of the columns `attnums` of the relation in `rel`.
const COLUMN_NAMES: &str = "array(SELECT a.attname::text FROM unnest(KEYS) WITH ORDINALITY AS k(n, o)
                                JOIN pg_attribute a ON a.attrelid = REL AND a.attnum = k.n ORDER BY k.o)";

fn column_names(keys: &str, rel: &str) -> String {
    COLUMN_NAMES.replace("KEYS", keys).replace("REL", rel)
}

pub(super) async fn tables(
    conn: &mut PgConnection,
    schemas: &[String],
    tenant_column: &str,
) -> Result<Vec<Table>, sqlx::Error> {
    type Row = (
        i64,
        String,
        String,
        Option<i16>,
        Option<bool>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text,
                a.attnum, a.attnotnull, format_type(a.atttypid, a.atttypmod)
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY ($2)
         ORDER BY 2, 3",
    )
    .bind(tenant_column)
    .bind(schemas)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(oid, schema, name, attnum, not_null, column_type)| Table {
            oid,
            schema,
            name,
            tenant: match (attnum, not_null, column_type) {
                (Some(attnum), Some(not_null), Some(column_type)) => Some(TenantColumn {
                    attnum,
                    not_null,
                    column_type,
                }),
                _ => None,
            },
        })
        .collect())
}

/// Rows whose tenant column is NULL.
pub(super) async fn null_tenants(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT count(*) FROM {table} WHERE {column} IS NULL");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await
}

pub(super) async fn unique_keys(
    conn: &mut PgConnection,
    table: &Table,
    tenant_attnum: i16,
) -> Result<Vec<UniqueKey>, sqlx::Error> {
    let constraints: Vec<(String, String, Vec<String>, bool)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT con.conname::text, con.contype::text, {}, $2 = ANY (con.conkey)
         FROM pg_constraint con
         WHERE con.conrelid = $1::int8::oid AND con.contype IN ('p', 'u')
         ORDER BY 1",
            column_names("con.conkey", "con.conrelid")
        )))
        .bind(table.oid)
        .bind(tenant_attnum)
        .fetch_all(&mut *conn)
        .await?;
    let indexes: Vec<(String, bool, Vec<String>, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ic.relname::text, i.indexprs IS NULL AND i.indpred IS NULL, {}, $2 = ANY (i.indkey::int2[])
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = $1::int8::oid AND i.indisunique
           AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                           WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                             AND con.contype IN ('p', 'u', 'x'))
         ORDER BY 1",
        column_names("i.indkey::int2[]", "i.indrelid")
    )))
    .bind(table.oid)
    .bind(tenant_attnum)
    .fetch_all(&mut *conn)
    .await?;
    let constraints = constraints
        .into_iter()
        .map(|(name, kind, columns, has_tenant)| UniqueKey {
            table: table.oid,
            name,
            kind: if kind == "p" {
                KeyKind::Primary
            } else {
                KeyKind::Unique
            },
            columns: Some(columns),
            has_tenant,
        });
    let indexes = indexes
        .into_iter()
        .map(|(name, plain, columns, has_tenant)| UniqueKey {
            table: table.oid,
            name,
            kind: KeyKind::Index,
            columns: plain.then_some(columns),
            has_tenant,
        });
    Ok(constraints.chain(indexes).collect())
}

/// Every foreign key from or to one of `oids`.
pub(super) async fn foreign_keys(
    conn: &mut PgConnection,
    oids: &[i64],
) -> Result<Vec<ForeignKey>, sqlx::Error> {
    type Row = (
        String,
        i64,
        i64,
        Vec<String>,
        Vec<String>,
        String,
        String,
        bool,
        bool,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT con.conname::text, con.conrelid::int8, con.confrelid::int8, {}, {},
                con.confdeltype::text, con.confupdtype::text, con.condeferrable, con.condeferred,
                EXISTS (SELECT 1 FROM pg_index i
                        WHERE i.indrelid = con.conrelid
                          AND cardinality(i.indkey::int2[]) >= cardinality(con.conkey)
                          AND (SELECT array_agg(k) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(k, n)
                               WHERE n <= cardinality(con.conkey)) @> con.conkey)
         FROM pg_constraint con
         WHERE con.contype = 'f' AND (con.conrelid::int8 = ANY ($1) OR con.confrelid::int8 = ANY ($1))
         ORDER BY 1",
        column_names("con.conkey", "con.conrelid"),
        column_names("con.confkey", "con.confrelid"),
    )))
    .bind(oids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                name,
                table,
                target,
                columns,
                target_columns,
                on_delete,
                on_update,
                deferrable,
                deferred,
                indexed,
            )| ForeignKey {
                table,
                name,
                target,
                columns,
                target_columns,
                on_delete,
                on_update,
                deferrable,
                deferred,
                indexed,
            },
        )
        .collect())
}

/// Views and materialized views that read one of `oids`.
pub(super) async fn views(conn: &mut PgConnection, oids: &[i64]) -> Result<Vec<View>, sqlx::Error> {
    Ok(crate::audit::views_over(conn, oids)
        .await?
        .into_iter()
        .map(|view| View {
            qualified: view
                .name
                .split('.')
                .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join("."),
            materialized: view.kind == "m",
            security_invoker: crate::audit::security_invoker(&view.reloptions),
            base: view.base,
        })
        .collect())
}

/// Whether `role` exists.
pub(super) async fn role_exists(conn: &mut PgConnection, role: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(&mut *conn)
        .await
}

/// The name of the database `conn` is connected to.
pub(super) async fn database(conn: &mut PgConnection) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *conn)
        .await
}
