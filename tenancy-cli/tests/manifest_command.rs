//! `tenancy manifest` as a user runs it: writes the file the macros read,
//! and `--check` fails once the database has moved on.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use common::{tenancy, text};

#[test]
fn writes_the_manifest_and_checks_it_against_the_database() {
    let db = tenancy_testing::test_database();
    db.owner_sql(
        "CREATE TABLE orders (tenant_id uuid NOT NULL, id bigint NOT NULL, PRIMARY KEY (tenant_id, id));
         CREATE TABLE plans (id int PRIMARY KEY);
         CREATE VIEW order_ids AS SELECT id FROM orders;",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("tenancy-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tenancy.manifest");
    let path = path.to_str().unwrap();

    let out = tenancy(&["manifest", "--database-url", db.app_url(), "--path", path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 tenant tables, 1 shared"),
        "{}",
        text(&out)
    );
    let written = std::fs::read_to_string(path).unwrap();
    assert!(written.starts_with("# tenancy manifest v1\n"), "{written}");
    assert!(
        written.contains("\ntenant public.orders tenant_id\n"),
        "{written}"
    );
    assert!(written.contains("\nshared public.plans\n"), "{written}");
    assert!(
        !written.contains("order_ids"),
        "views are not tables: {written}"
    );

    let out = tenancy(&[
        "manifest",
        "--database-url",
        db.app_url(),
        "--path",
        path,
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A new tenant table makes the file stale.
    db.owner_sql("CREATE TABLE invoices (tenant_id uuid NOT NULL, id bigint NOT NULL);")
        .unwrap();
    let out = tenancy(&[
        "manifest",
        "--database-url",
        db.app_url(),
        "--path",
        path,
        "--check",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the database has:  tenant public.invoices tenant_id"),
        "{}",
        text(&out)
    );

    let out = tenancy(&[
        "manifest",
        "--check",
        "--path",
        "-",
        "--database-url",
        db.app_url(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = tenancy(&["manifest", "--path", path]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no database"), "{}", text(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
