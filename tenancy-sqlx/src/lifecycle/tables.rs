//! [`TenantTables`]: the tenant tables, discovered from the catalog.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgConnection;
use tenancy_core::rls::Ident;

use crate::Result;

/// The tables that hold a tenant's rows: every table with the tenant
/// column in the schemas of the transaction's `search_path` (`public` for
/// shared tables, the tenant's schema for schema-per-tenant). Found in the
/// catalog each time, so a table added by a later migration is never
/// forgotten by a deletion or an export.
///
/// Ordered so that a table comes before the tables its foreign keys point
/// to: deleting in this order never trips a foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantTables {
    column: Ident,
    tables: Vec<Ident>,
}

impl TenantTables {
    /// Discovers the tables with `column` visible to `conn`'s transaction.
    pub async fn discover(conn: &mut PgConnection, column: &str) -> Result<Self> {
        let column = Ident::new(column)?;
        let found: Vec<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped AND a.attnum > 0
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND a.attname = $1
               AND n.nspname = ANY (current_schemas(false))
             ORDER BY 1, 2",
        )
        .bind(column.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let edges: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT cn.nspname::text, c.relname::text, fn.nspname::text, f.relname::text
             FROM pg_constraint k
             JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
             JOIN pg_class f ON f.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
             WHERE k.contype = 'f' AND k.conrelid <> k.confrelid
               AND cn.nspname = ANY (current_schemas(false))",
        )
        .fetch_all(&mut *conn)
        .await?;
        let name = |schema: &str, table: &str| format!("{schema}.{table}");
        let names: Vec<String> = found.iter().map(|(s, t)| name(s, t)).collect();
        let refs: Vec<(String, String)> = edges
            .iter()
            .map(|(cs, c, fs, f)| (name(cs, c), name(fs, f)))
            .collect();
        let tables = referencing_first(&names, &refs)
            .iter()
            .map(|n| Ident::new(n))
            .collect::<Result<_, _>>()?;
        Ok(Self { column, tables })
    }

    /// The tables, schema-qualified, referencing tables first.
    pub fn tables(&self) -> &[Ident] {
        &self.tables
    }

    /// The tenant column.
    pub fn column(&self) -> &Ident {
        &self.column
    }
}

/// Orders `tables` so that each comes before the tables it references
/// (`refs`: (referencing, referenced)). Cycles keep their catalog order.
fn referencing_first(tables: &[String], refs: &[(String, String)]) -> Vec<String> {
    let known: BTreeSet<&str> = tables.iter().map(String::as_str).collect();
    // referenced -> number of tables referencing it that are not placed yet
    let mut waiting: BTreeMap<&str, usize> = tables.iter().map(|t| (t.as_str(), 0)).collect();
    for (from, to) in refs {
        if known.contains(from.as_str()) && known.contains(to.as_str()) {
            *waiting.entry(to.as_str()).or_default() += 1;
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    let mut placed = BTreeSet::new();
    while order.len() < tables.len() {
        let next = tables
            .iter()
            .find(|t| !placed.contains(t.as_str()) && waiting[t.as_str()] == 0)
            .or_else(|| tables.iter().find(|t| !placed.contains(t.as_str())));
        let Some(next) = next else { break };
        placed.insert(next.as_str());
        order.push(next.clone());
        for (from, to) in refs {
            if from == next
                && let Some(n) = waiting.get_mut(to.as_str())
            {
                *n = n.saturating_sub(1);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referencing_tables_come_first() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let tables = s(&["p.customers", "p.order_lines", "p.orders"]);
        let refs = [
            ("p.orders".to_owned(), "p.customers".to_owned()),
            ("p.order_lines".to_owned(), "p.orders".to_owned()),
            ("p.order_lines".to_owned(), "p.elsewhere".to_owned()),
        ];
        assert_eq!(
            referencing_first(&tables, &refs),
            s(&["p.order_lines", "p.orders", "p.customers"])
        );
        let cycle = [
            ("p.a".to_owned(), "p.b".to_owned()),
            ("p.b".to_owned(), "p.a".to_owned()),
        ];
        assert_eq!(referencing_first(&s(&["p.a", "p.b"]), &cycle).len(), 2);
    }
}
