//! The staff's admin portal, mounted at `/admin` of the POS server, over
//! real HTTP: the seed tenants listed, suspending one stops its requests
//! (403) until it is resumed, and nothing without the admin token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn staff_list_suspend_and_resume_tenants_at_admin() {
    let db = tenancy_testing::test_database();
    let database = pos::Database::connect(db.admin_url(), None).await.unwrap();
    database.close_admin().await;
    let server = pos::Server::start(&database, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}/admin/api{path}"))
            .bearer_auth(&server.admin_token)
    };

    let anonymous = http
        .get(format!("{base}/admin/api/tenants"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let listed: Value = admin(reqwest::Method::GET, "/tenants")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert!(
        slugs.contains(&"acme") && slugs.contains(&"globex"),
        "{slugs:?}"
    );

    // A suspended tenant's requests are refused by the tenant layer.
    let token: Value = http
        .post(format!("{base}/auth/demo-token"))
        .json(&json!({"tenant": "acme", "user": "alice"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders = || {
        http.get(format!("{base}/orders"))
            .header("X-Tenant", "acme")
            .bearer_auth(token["token"].as_str().unwrap())
            .send()
    };
    assert_eq!(orders().await.unwrap().status(), StatusCode::OK);
    let suspended: Value = admin(reqwest::Method::POST, "/tenants/acme/suspend")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(suspended["status"], "suspended");
    // At once: the portal clears the tenant layer's cache.
    assert_eq!(orders().await.unwrap().status(), StatusCode::FORBIDDEN);
    let resumed: Value = admin(reqwest::Method::POST, "/tenants/acme/resume")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["status"], "active");
    assert_eq!(orders().await.unwrap().status(), StatusCode::OK);
    server.stop().await;
}
