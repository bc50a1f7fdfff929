//! The demo's nightly jobs, checked from outside: each tenant's report
//! equals what an administrator counts with an explicit `WHERE`, no report
//! exists for a tenant without one, and the runtime role cannot read the
//! job queue (every tenant's jobs are there).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::net::SocketAddr;

use pos::{Database, Server};

#[tokio::test]
async fn each_report_is_its_tenants_and_the_queue_is_not_the_apps() {
    let db = tenancy_testing::test_database();
    let database = Database::connect(db.admin_url(), None).await.unwrap();
    let server = Server::start(&database, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    assert!(pos::story::run(&database, &server).await.unwrap());
    server.stop().await;

    for slug in ["acme", "globex", "tiny"] {
        let tenant = database.tenant(slug).unwrap();
        let explicit = db
            .admin_sql(&format!(
                "SELECT count(*), coalesce(sum(total_cents), 0) FROM orders WHERE tenant_id = '{}'",
                tenant.id()
            ))
            .unwrap();
        let reported = db
            .admin_sql(&format!(
                "SELECT orders, total_cents FROM sales_reports WHERE tenant_id = '{}'",
                tenant.id()
            ))
            .unwrap();
        assert_eq!(reported.trim(), explicit.trim(), "{slug}");
    }
    let strays = db
        .admin_sql(
            "SELECT count(*) FROM sales_reports r \
             WHERE NOT EXISTS (SELECT FROM tenancy_tenants t WHERE t.id = r.tenant_id)",
        )
        .unwrap();
    assert_eq!(strays.trim(), "0");
    let total = db.admin_sql("SELECT count(*) FROM sales_reports").unwrap();
    assert_eq!(total.trim(), "3");

    let denied = sqlx::query("SELECT count(*) FROM apalis.jobs")
        .execute(&database.runtime)
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("permission denied"), "{denied}");
    database.shutdown().await;
}
