//! `tenancy schemas migrate` against real PostgreSQL: progress per schema,
//! a failing schema reported without stopping the others, resumption.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::process::{Command, Output};

use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Placement, SchemaName, Tenant, TenantId, TenantSettings};
use tenancy_sqlx::PgTenantStore;
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

fn migrate(url: &str, dir: &std::path::Path) -> (Option<i32>, String) {
    migrate_with(url, dir, &[])
}

fn migrate_with(url: &str, dir: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_tenancy"))
        .args(["schemas", "migrate", "--database-url", url, "--migrations"])
        .arg(dir)
        .args(["--concurrency", "2"])
        .args(extra)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// What `command` prints when its standard output is a terminal.
fn on_a_terminal(command: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("`script` (util-linux) runs the command in a pseudo-terminal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn migrates_every_schema_reports_failures_and_resumes() {
    let db = tenancy_testing::test_database();
    let url = db.provisioner_url().to_owned();
    let pool = PgPoolOptions::new().connect(&url).await.unwrap();
    // The tenants table belongs to the owner; the provisioner reads it.
    let owner = PgPoolOptions::new().connect(db.owner_url()).await.unwrap();
    let store = PgTenantStore::new(owner);
    db.owner_sql(&format!(
        "{}GRANT SELECT ON tenancy_tenants TO {};",
        store.create_table_sql(),
        tenancy_testing::PROVISIONER_ROLE
    ))
    .unwrap();
    let dir = std::env::temp_dir().join(format!("tenancy-cli-migrations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_orders.sql"),
        "CREATE TABLE orders (id int PRIMARY KEY)",
    )
    .unwrap();
    let first = Migrations::from_dir(&dir).unwrap();
    let provisioner = SchemaProvisioner::new(pool.clone(), first);
    let mut schemas = Vec::new();
    for slug in ["a", "b", "c"] {
        let id = TenantId::new_v4();
        let schema = SchemaName::for_tenant(&id);
        let placement = Placement::shared().with_schema(schema.clone());
        let tenant = Tenant::builder(id, slug.parse().unwrap())
            .settings(TenantSettings::default().with_placement(placement))
            .build();
        store.insert(&tenant, None).await.unwrap();
        provisioner.provision(&schema).await.unwrap();
        schemas.push(schema);
    }

    let (code, out) = migrate(&url, &dir);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("[3/3]"), "{out}");
    assert!(out.contains("0 migrated, 3 up to date, 0 failed"), "{out}");

    // On a terminal (a pseudo-terminal from util-linux's `script`): the
    // progress bar instead of a line per schema.
    let out = on_a_terminal(&format!(
        "{} schemas migrate --database-url '{url}' --migrations '{}'",
        env!("CARGO_BIN_EXE_tenancy"),
        dir.display()
    ));
    assert!(out.contains("0 migrated, 3 up to date, 0 failed"), "{out}");
    assert!(out.contains("/3 "), "no progress bar: {out}");
    assert!(!out.contains("[1/3]"), "line mode on a terminal: {out}");

    // A new migration; one schema has drifted and fails it.
    std::fs::write(dir.join("2_notes.sql"), "ALTER TABLE orders ADD note text").unwrap();
    db.admin_sql(&format!(
        "ALTER TABLE {}.orders ADD note text",
        schemas[1].sql()
    ))
    .unwrap();
    let (code, out) = migrate(&url, &dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("{}: FAILED: migration 2 failed", schemas[1])),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}: applied [2]", schemas[0])),
        "{out}"
    );
    assert!(out.contains("2 migrated, 0 up to date, 1 failed"), "{out}");

    // Fixed, run again: only the failed schema has work left.
    db.admin_sql(&format!(
        "ALTER TABLE {}.orders DROP note",
        schemas[1].sql()
    ))
    .unwrap();
    let (code, out) = migrate(&url, &dir);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1 migrated, 2 up to date, 0 failed"), "{out}");

    // --json: one object per schema, then the summary (JSON Lines).
    let (code, out) = migrate_with(&url, &dir, &["--json"]);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    for step in &lines[..3] {
        assert_eq!(step["status"], "up_to_date", "{step}");
        assert_eq!(step["total"], 3, "{step}");
        assert!(
            schemas.iter().any(|s| step["schema"] == s.as_str()),
            "{step}"
        );
    }
    assert_eq!(lines[3]["summary"]["up_to_date"], 3, "{out}");
    assert_eq!(lines[3]["summary"]["failed"], 0, "{out}");

    let (code, out) = migrate(&url, &dir.join("missing"));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("cannot read"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
