//! The checker on the query shapes of a point-of-sale app: each accepted
//! shape, and each refused one with the message a user sees.

mod cases;

use cases::manifest;
use tenancy_macros_core::{Manifest, TableEntry, scope_sql};

fn accepted(sql: &str, args: usize) -> String {
    match scope_sql(sql, &manifest(), args) {
        Ok(scoped) => scoped.sql,
        Err(e) => panic!("refused {sql}\n  {e}"),
    }
}

fn refused(sql: &str, args: usize) -> String {
    match scope_sql(sql, &manifest(), args) {
        Ok(scoped) => panic!("accepted {sql}\n  as {}", scoped.sql),
        Err(e) => e.to_string(),
    }
}

#[test]
fn accepts_what_is_scoped() {
    for (sql, args) in cases::ACCEPTED {
        accepted(sql, args.len());
    }
}

#[test]
fn refuses_what_is_not_scoped() {
    for (sql, args, message) in cases::REFUSED {
        let error = refused(sql, *args);
        assert!(
            error.contains(message),
            "{sql}\n  said: {error}\n  not:  {message}"
        );
    }
}

#[test]
fn qualifies_manifest_tables_and_numbers_the_tenant() {
    let sql = accepted(
        "WITH t AS (SELECT id FROM orders WHERE tenant_id = $tenant)\nSELECT 'orders $tenant', x.* FROM t JOIN \"public\".payments x ON x.tenant_id = $tenant AND x.order_id = t.id -- $tenant\nWHERE x.total > $1",
        1,
    );
    assert_eq!(
        sql,
        "WITH t AS (SELECT id FROM public.orders WHERE tenant_id = $2)\nSELECT 'orders $tenant', x.* FROM t JOIN \"public\".payments x ON x.tenant_id = $2 AND x.order_id = t.id -- $tenant\nWHERE x.total > $1"
    );
}

#[test]
fn errors_point_at_the_table() {
    let error = scope_sql("SELECT *\n  FROM orders o\n  JOIN payments p ON p.order_id = o.id\n WHERE o.tenant_id = $tenant", &manifest(), 0).unwrap_err();
    assert_eq!(error.location(), Some((3, 8)));
}

#[test]
fn binds_the_tenant_as_the_type_of_the_tenant_columns() {
    let bigint = |t| {
        TableEntry::tenant("billing", t, "account_id")
            .with_id_type("bigint")
            .unwrap()
    };
    let manifest = Manifest::new(vec![
        bigint("invoices"),
        bigint("invoice_lines"),
        TableEntry::tenant("public", "orders", "tenant_id"),
        TableEntry::shared("public", "plans"),
    ]);
    let scoped = scope_sql(
        "SELECT i.id, count(l.id) FROM invoices i JOIN invoice_lines l ON l.account_id = i.account_id AND l.invoice_id = i.id WHERE i.account_id = $tenant GROUP BY i.id",
        &manifest,
        0,
    )
    .unwrap();
    assert_eq!(scoped.id_type, Some("bigint"));
    let uuid = scope_sql(
        "SELECT id FROM orders WHERE tenant_id = $tenant",
        &manifest,
        0,
    )
    .unwrap();
    assert_eq!(uuid.id_type, Some("uuid"));
    let shared = scope_sql("SELECT name FROM plans", &manifest, 0).unwrap();
    assert_eq!(shared.id_type, None);
    // One statement, one id type: a bigint table and a uuid table cannot
    // both be scoped to the one `$tenant`.
    let mixed = scope_sql(
        "SELECT 1 FROM invoices i JOIN orders o ON o.tenant_id = $tenant WHERE i.account_id = $tenant",
        &manifest,
        0,
    )
    .unwrap_err()
    .to_string();
    assert!(mixed.contains("different types (bigint, uuid)"), "{mixed}");
}

/// The tenant is bound as the parameter after the statement's own, and only
/// when the statement names it.
#[test]
fn the_tenant_parameter_follows_the_statements_own() {
    let scoped = |sql: &str, args: usize| {
        scope_sql(sql, &manifest(), args).unwrap_or_else(|e| panic!("{e}"))
    };
    let with = scoped(
        "SELECT * FROM orders WHERE tenant_id = $tenant AND total > $1 AND id = $2",
        2,
    );
    assert_eq!(with.tenant_param, Some(3));
    let without = scoped("SELECT * FROM plans WHERE id = $1", 1);
    assert_eq!(without.tenant_param, None);
}
