//! sqlx's offline data for the shop's queries (`.sqlx/`), which lets the
//! crate build without a database: kept true to the schema.
//!
//! - `offline_data_matches_the_schema` asks a database migrated with
//!   `schema.sql` to describe every query in `.sqlx/` and compares the
//!   answer with the file, so a schema change cannot leave stale types.
//!   (A query whose text changed has no file: the build already fails.)
//!
//! After a query or the schema changed, `scripts/sqlx-prepare.sh`
//! regenerates `.sqlx/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqlSafeStr};

fn offline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".sqlx")
}

fn migrated_database() -> tenancy_testing::TestDatabase {
    let db = tenancy_testing::test_database();
    db.owner_sql(&shop::migration()).unwrap();
    db
}

fn query_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(offline_dir())
        .expect("examples/shop/.sqlx is missing: run scripts/sqlx-prepare.sh")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn offline_data_matches_the_schema() {
    let db = migrated_database();
    let mut conn = PgConnection::connect(db.app_url()).await.unwrap();
    let files = query_files();
    assert!(
        files.len() >= 25,
        "expected the offline data of every shop query, found {}",
        files.len()
    );
    for file in files {
        let data: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let sql = data["query"].as_str().unwrap().to_owned();
        let described = (&mut conn)
            .describe(AssertSqlSafe(sql.clone()).into_sql_str())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: the schema no longer accepts\n{sql}\n{e}\nrun scripts/sqlx-prepare.sh",
                    file.display()
                )
            });
        assert_eq!(
            serde_json::to_value(&described).unwrap(),
            data["describe"],
            "{}: stale for\n{sql}\nrun scripts/sqlx-prepare.sh",
            file.display()
        );
    }
}
