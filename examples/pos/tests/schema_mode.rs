//! The demo's story holds in schema-per-tenant mode too, and the orders
//! really live in one schema per tenant. The admin portal refuses to create
//! a tenant it could not give a schema.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::net::SocketAddr;

use pos::{Database, Mode, Server};

#[tokio::test]
async fn the_story_passes_with_a_schema_per_tenant() {
    let db = tenancy_testing::test_database();
    let database = Database::connect_in(db.admin_url(), None, Mode::SchemaPerTenant)
        .await
        .unwrap();
    assert_eq!(database.mode, Mode::SchemaPerTenant);
    let server = Server::start(&database, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    assert!(pos::story::run(&database, &server).await.unwrap());

    // The server holds no administrator connection, so it cannot make a
    // schema: creating a tenant in the portal is refused with the reason,
    // and no tenant is added whose every request would fail.
    let created = reqwest::Client::new()
        .post(format!("http://{}/admin/api/tenants", server.addr))
        .bearer_auth(&server.admin_token)
        .json(&serde_json::json!({ "slug": "newco" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::NOT_IMPLEMENTED);
    let refusal: serde_json::Value = created.json().await.unwrap();
    assert!(
        refusal["error"].as_str().unwrap().contains("own schema"),
        "{refusal}"
    );
    let newco = db
        .admin_sql("SELECT count(*) FROM tenancy_tenants WHERE slug = 'newco'")
        .unwrap();
    assert_eq!(newco, "0");
    server.stop().await;

    // One orders table per seed tenant, none shared; acme's rows in acme's.
    let tables = db
        .admin_sql(
            "SELECT string_agg(n.nspname, ',' ORDER BY n.nspname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = 'orders' AND c.relkind = 'r'",
        )
        .unwrap();
    assert_eq!(tables.split(',').count(), 3, "{tables}");
    assert!(!tables.contains("public"), "{tables}");
    let acme = database.tenant("acme").unwrap();
    let schema = acme.placement().schema().unwrap();
    let in_acme = db
        .admin_sql(&format!(
            "SELECT count(*) FILTER (WHERE tenant_id <> '{}') FROM {}.orders",
            acme.id(),
            schema.sql()
        ))
        .unwrap();
    assert_eq!(in_acme, "0");
    database.shutdown().await;
}
