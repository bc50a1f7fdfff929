//! Writes never set the tenant column: the transaction's tenant fills it
//! (the column default from `TenantPolicy::column_sql`), and rows never move
//! between tenants. Checked on the SQL diesel renders for the statement,
//! before it is sent, so the check holds with row-level security off too.

use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;

use crate::{Error, Result};

/// Refuses `statement` if it writes `column`: in an `INSERT`'s column list
/// or `ON CONFLICT ... DO UPDATE SET`, or in an `UPDATE`'s `SET`.
pub(crate) fn refuse_tenant_column_writes<S>(statement: &S, column: &'static str) -> Result<()>
where
    S: QueryFragment<Pg>,
{
    let rendered = diesel::debug_query::<Pg, _>(statement).to_string();
    // The bound values come after this marker; only the SQL counts.
    let sql = rendered
        .split_once(" -- binds:")
        .map_or(rendered.as_str(), |(sql, _)| sql);
    if writes_column(sql, column) {
        return Err(Error::TenantColumn { column });
    }
    Ok(())
}

/// Whether diesel's SQL `sql` writes the quoted column `column`.
fn writes_column(sql: &str, column: &str) -> bool {
    let quoted = format!("\"{column}\"");
    let assigned = format!("{quoted} = ");
    if let Some(rest) = sql.strip_prefix("INSERT INTO ") {
        // `INSERT INTO "t" ("a", "b") VALUES ...`: the first parenthesis
        // holds the column list.
        let listed = rest
            .split_once('(')
            .and_then(|(_, tail)| tail.split_once(')'))
            .is_some_and(|(columns, _)| columns.split(", ").any(|c| c == quoted));
        let upserted = rest
            .split_once(" DO UPDATE SET ")
            .is_some_and(|(_, set)| set.contains(&assigned));
        return listed || upserted;
    }
    if sql.starts_with("UPDATE ") {
        let set = sql.split_once(" SET ").map_or("", |(_, set)| set);
        let set = set.split_once(" WHERE ").map_or(set, |(set, _)| set);
        return set
            .split(", ")
            .any(|assignment| assignment.starts_with(&assigned));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::writes_column;

    #[test]
    fn finds_the_tenant_column_in_inserts_and_updates() {
        let col = "tenant_id";
        assert!(writes_column(
            r#"INSERT INTO "orders" ("tenant_id", "item") VALUES ($1, $2)"#,
            col
        ));
        assert!(!writes_column(
            r#"INSERT INTO "orders" ("item") VALUES ($1)"#,
            col
        ));
        assert!(writes_column(
            r#"INSERT INTO "orders" ("item") VALUES ($1) ON CONFLICT ("id") DO UPDATE SET "tenant_id" = excluded."tenant_id""#,
            col
        ));
        assert!(writes_column(
            r#"UPDATE "orders" SET "quantity" = $1, "tenant_id" = $2 WHERE ("orders"."tenant_id" = $3)"#,
            col
        ));
        assert!(!writes_column(
            r#"UPDATE "orders" SET "quantity" = $1 WHERE ("orders"."tenant_id" = $2)"#,
            col
        ));
        assert!(!writes_column(
            r#"DELETE FROM "orders" WHERE ("orders"."tenant_id" = $1)"#,
            col
        ));
        assert!(!writes_column(
            r#"INSERT INTO "orders" ("other_tenant_id") VALUES ($1)"#,
            col
        ));
    }
}
