//! The POS database, as the app sets it up, audits clean.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use sqlx::postgres::PgPoolOptions;
use tenancy_sqlx::audit::{AuditOptions, audit};

#[tokio::test]
async fn the_pos_database_audits_clean() {
    let db = tenancy_testing::test_database();
    let database = pos::Database::connect(db.admin_url(), None).await.unwrap();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.admin_url())
        .await
        .unwrap();
    let options = AuditOptions::default()
        .app_role(pos::db::RUNTIME_ROLE)
        .tenant_schema("public")
        .shared_table("tenancy_tenants");
    let report = audit(&admin, &options).await.unwrap();
    assert_eq!(
        report.tenant_tables,
        vec!["public.orders", "public.sales_reports"]
    );
    assert_eq!(report.findings, vec![], "{}", report.to_text());
    database.shutdown().await;
}
