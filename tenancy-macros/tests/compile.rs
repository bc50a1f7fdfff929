//! Compile tests of the scoped SQL macros: every `ui/fail` case (a query
//! that leaves a tenant table unscoped, writes another tenant, or runs off
//! a tenant transaction) must fail to compile with the message in its
//! `.stderr`, and its twin in `ui/pass`, the same query fixed, must compile.
//!
//! The passing twins expand into `sqlx::query!`, which asks a database for
//! the types: the test starts PostgreSQL with `ui/schema.sql` and runs the
//! cases in a child process with `DATABASE_URL` set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn scoped_sql_macros_refuse_unscoped_queries_and_accept_their_fixes() {
    let db = tenancy_testing::test_database();
    db.owner_sql(include_str!("ui/schema.sql")).unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/tenancy.manifest");
    // The cases' manifest is the schema's.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::PgPool::connect(db.app_url()).await.unwrap();
        let options = tenancy_sqlx::manifest::ManifestOptions::default();
        if let Err(e) = tenancy_sqlx::manifest::verify(&pool, &manifest, &options).await {
            panic!("{e}");
        }
    });
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "ui_cases", "--nocapture"])
        .env("DATABASE_URL", db.app_url())
        .env("SQLX_OFFLINE", "false")
        .env("TENANCY_MANIFEST", manifest)
        .status()
        .unwrap();
    assert!(status.success(), "the compile tests failed (output above)");
}

/// Run by the test above, with a database.
#[test]
#[ignore = "needs DATABASE_URL: run by scoped_sql_macros_refuse_unscoped_queries_and_accept_their_fixes"]
fn ui_cases() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
