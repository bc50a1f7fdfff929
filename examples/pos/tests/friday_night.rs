//! The demo's story in shared-schema mode, and its Friday-night step as a
//! test of its own: a raw `SELECT * FROM orders` without `WHERE`, inside
//! acme's tenant transaction, returns exactly the rows an administrator's
//! query with an explicit `WHERE tenant_id = acme` returns.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::net::SocketAddr;

use pos::{Database, Server};
use uuid::Uuid;

#[tokio::test]
async fn the_story_holds_and_the_forgotten_where_returns_only_acmes_rows() {
    let db = tenancy_testing::test_database();
    let database = Database::connect(db.admin_url(), None).await.unwrap();
    let server = Server::start(&database, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    assert!(pos::story::run(&database, &server).await.unwrap());

    let acme = database.tenant("acme").unwrap().clone();
    let mut tx = server.state.pool.begin(&acme).await.unwrap();
    let seen: Vec<(Uuid, Uuid)> = sqlx::query_as("SELECT id, tenant_id FROM orders")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    server.stop().await;

    let mut seen_ids: Vec<String> = seen.iter().map(|(id, _)| id.to_string()).collect();
    seen_ids.sort_unstable();
    let explicit = db
        .admin_sql(&format!(
            "SELECT id FROM orders WHERE tenant_id = '{}' ORDER BY id::text",
            acme.id()
        ))
        .unwrap();
    let explicit: Vec<&str> = explicit.lines().filter(|l| !l.is_empty()).collect();
    assert!(!explicit.is_empty(), "the story left acme with orders");
    assert_eq!(seen_ids, explicit);
    assert!(seen.iter().all(|(_, t)| t == acme.id().as_uuid()));
    let total = db.admin_sql("SELECT count(*) FROM orders").unwrap();
    assert!(
        total.trim().parse::<usize>().unwrap() > seen.len(),
        "other tenants have orders too, so the filter was needed"
    );
}
