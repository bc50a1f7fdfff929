//! The shop's `tenancy.manifest`, which the macros read at compile time,
//! matches its schema: a table added without regenerating it fails here.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use tenancy_sqlx::manifest::{ManifestOptions, verify};

#[tokio::test]
async fn the_manifest_matches_the_schema() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&shop::migration()).unwrap();
    let pool = sqlx::PgPool::connect(db.app_url()).await.unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tenancy.manifest");
    if let Err(e) = verify(&pool, &path, &ManifestOptions::default()).await {
        panic!("{e}");
    }
}
