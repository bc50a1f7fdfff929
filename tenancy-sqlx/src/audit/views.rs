//! Views and materialized views over tenant tables.

use sqlx::PgConnection;

use super::checks::{AuditedTable, finding};
use super::expr::security_invoker;
use super::{Finding, FindingCode, Severity};

/// A view or materialized view that reads a table.
pub(crate) struct ViewOver {
    /// `schema.name`, as the catalog writes them (unquoted).
    pub(crate) name: String,
    /// `v` or `m`.
    pub(crate) kind: String,
    /// Its options, comma-separated.
    pub(crate) reloptions: String,
    /// The table it reads.
    pub(crate) base: i64,
}

/// Every view and materialized view that reads one of the tables `oids`.
pub(crate) async fn views_over(
    conn: &mut PgConnection,
    oids: &[i64],
) -> Result<Vec<ViewOver>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT DISTINCT n.nspname || '.' || v.relname, v.relkind::text,
                coalesce(array_to_string(v.reloptions, ','), ''), d.refobjid::int8
         FROM pg_rewrite r
         JOIN pg_class v ON v.oid = r.ev_class
         JOIN pg_namespace n ON n.oid = v.relnamespace
         JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass
         WHERE v.relkind IN ('v', 'm') AND d.refobjid::int8 = ANY ($1) AND d.refobjid <> v.oid
         ORDER BY 1",
    )
    .bind(oids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, kind, reloptions, base)| ViewOver {
            name,
            kind,
            reloptions,
            base,
        })
        .collect())
}

pub(crate) async fn views(
    conn: &mut PgConnection,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
    for ViewOver {
        name: view,
        kind,
        reloptions,
        base,
    } in views_over(conn, &oids).await?
    {
        let base = tables
            .iter()
            .find(|t| t.oid == base)
            .map_or("a tenant table", |t| t.name.as_str());
        if kind == "m" {
            out.push(finding(
                Severity::Critical,
                FindingCode::MaterializedView,
                &view,
                format!("a materialized view over {base}: materialized views have no row-level security, so it holds every tenant's rows for anyone who can read it"),
                "drop it, or revoke it from the application role and add a tenant column plus a view with security_invoker on top",
            ));
        } else if !security_invoker(&reloptions) {
            out.push(finding(
                Severity::High,
                FindingCode::ViewBypassesRls,
                &view,
                format!("a view over {base} without security_invoker runs with its owner's rights: if the owner bypasses RLS, so does everyone using the view"),
                format!("ALTER VIEW {view} SET (security_invoker = true);"),
            ));
        }
    }
    Ok(())
}
