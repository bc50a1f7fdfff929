//! `tenancy audit` as a user runs it: exit codes, human and JSON output.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use common::{tenancy, text};

use tenancy_core::rls::TenantPolicy;

fn database() -> tenancy_testing::TestDatabase {
    let db = tenancy_testing::test_database();
    let policy = TenantPolicy::new("orders").unwrap();
    db.owner_sql(&format!(
        "CREATE TABLE orders (id uuid NOT NULL, {}, PRIMARY KEY (tenant_id, id)); {}",
        policy.column_sql(),
        policy.enable_sql()
    ))
    .unwrap();
    db
}

#[test]
fn a_clean_database_exits_zero() {
    let db = database();
    let out = tenancy(&[
        "audit",
        "--database-url",
        db.admin_url(),
        "--app-role",
        tenancy_testing::APP_ROLE,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 tenant table(s), 0 finding(s)"),
        "{}",
        text(&out)
    );
}

#[test]
fn findings_at_the_threshold_exit_one() {
    let db = database();
    db.admin_sql("ALTER TABLE orders NO FORCE ROW LEVEL SECURITY")
        .unwrap();
    let out = tenancy(&["audit", "--database-url", db.admin_url()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("rls_not_forced on public.orders"),
        "{}",
        text(&out)
    );

    let lenient = tenancy(&[
        "audit",
        "--database-url",
        db.admin_url(),
        "--fail-on",
        "critical",
    ]);
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient));

    let json = tenancy(&["audit", "--database-url", db.admin_url(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["findings"][0]["code"], "rls_not_forced");
    assert_eq!(report["tenant_tables"][0], "public.orders");
}

#[test]
fn bad_arguments_and_unreachable_databases_exit_two() {
    for args in [
        vec![],
        vec!["audit"],
        vec!["frobnicate"],
        vec!["audit", "--database-url"],
        vec![
            "audit",
            "--database-url",
            "postgres://x@127.0.0.1:1/x",
            "--fail-on",
            "severe",
        ],
        vec![
            "audit",
            "--database-url",
            "postgres://x@127.0.0.1:1/x",
            "--bogus",
        ],
    ] {
        let out = tenancy(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("--help"), "{args:?}: {}", text(&out));
    }
    let out = tenancy(&[
        "audit",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("could not audit the database"),
        "{}",
        text(&out)
    );
}
