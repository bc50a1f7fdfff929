//! `tenancy manifest` as a user runs it: writes the file the macros read,
//! and `--check` fails once the database has moved on.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use common::{tenancy, text};

/// A database with one tenant table, one shared table and a view, and a
/// scratch directory for the manifest.
fn setup(name: &str) -> (tenancy_testing::TestDatabase, std::path::PathBuf) {
    let db = tenancy_testing::test_database();
    db.owner_sql(
        "CREATE TABLE orders (tenant_id uuid NOT NULL, id bigint NOT NULL, PRIMARY KEY (tenant_id, id));
         CREATE TABLE plans (id int PRIMARY KEY);
         CREATE VIEW order_ids AS SELECT id FROM orders;",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("tenancy-manifest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    (db, dir.join("tenancy.manifest"))
}

fn manifest(
    db: &tenancy_testing::TestDatabase,
    path: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["manifest", "--database-url", db.app_url(), "--path", path];
    args.extend(extra);
    tenancy(&args)
}

#[test]
fn writes_the_manifest_and_checks_it_against_the_database() {
    let (db, path) = setup("text");
    let path = path.to_str().unwrap();

    let out = manifest(&db, path, &[]);
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

    let out = manifest(&db, path, &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A new tenant table makes the file stale.
    db.owner_sql("CREATE TABLE invoices (tenant_id uuid NOT NULL, id bigint NOT NULL);")
        .unwrap();
    let out = manifest(&db, path, &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the database has:  tenant public.invoices tenant_id"),
        "{}",
        text(&out)
    );

    let out = manifest(&db, "-", &["--check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = tenancy(&["manifest", "--path", path]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--database-url"), "{}", text(&out));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn json_output_has_a_stable_shape() {
    let (db, path) = setup("json");
    let path = path.to_str().unwrap();
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap()
    };

    let out = manifest(&db, path, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        json(&out),
        serde_json::json!({"path": path, "tenant_tables": 1, "shared_tables": 1})
    );

    let out = manifest(&db, path, &["--check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        json(&out),
        serde_json::json!({"path": path, "stale": false, "database_has": [], "manifest_says": []})
    );

    db.owner_sql("DROP TABLE plans; CREATE TABLE invoices (tenant_id uuid NOT NULL);")
        .unwrap();
    let out = manifest(&db, path, &["--check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        json(&out),
        serde_json::json!({
            "path": path,
            "stale": true,
            "database_has": ["tenant public.invoices tenant_id"],
            "manifest_says": ["shared public.plans"],
        })
    );
    std::fs::remove_file(path).unwrap();
}
