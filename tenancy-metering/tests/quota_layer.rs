//! Quotas through axum: a tenant over its plan's daily requests gets a 429
//! with `Retry-After` and the reason, over its storage a 403 for writes,
//! and other tenants go on.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request, StatusCode};
use tenancy_core::{AnyTenantId, InMemoryTenantStore, Tenant, TenantId, TenantSettings};
use tenancy_metering::{Quota, QuotaLayer, Quotas};
use tenancy_tower::TenantLayer;
use tenancy_tower::strategy::Header;
use tower::ServiceExt;

struct World {
    store: InMemoryTenantStore,
    free: Tenant,
    pro: Tenant,
}

fn world() -> World {
    let store = InMemoryTenantStore::new();
    let tenant = |slug: &str, plan: &str| {
        Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
            .settings(TenantSettings::default().with_plan(plan))
            .build()
    };
    let (free, pro) = (tenant("cafe", "free"), tenant("chain", "pro"));
    store.insert(free.clone());
    store.insert(pro.clone());
    World { store, free, pro }
}

fn quotas() -> QuotaLayer {
    QuotaLayer::new(
        Quotas::new(Quota::unlimited()).plan(
            "free",
            Quota::unlimited()
                .with_requests_per_day(3)
                .with_storage_bytes(1_000),
        ),
    )
}

fn app(w: &World, quotas: &QuotaLayer) -> Router {
    Router::new()
        .route(
            "/orders",
            get(|| async { "list" }).post(|| async { "created" }),
        )
        .layer(quotas.clone())
        .layer(
            TenantLayer::builder(w.store.clone())
                .strategy(Header::x_tenant())
                .build(),
        )
}

async fn send(
    app: &Router,
    tenant: &Tenant,
    method: Method,
) -> (StatusCode, Option<String>, String) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri("/orders")
                .header("x-tenant", tenant.slug().as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    (
        status,
        retry_after,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn id(tenant: &Tenant) -> AnyTenantId {
    AnyTenantId::Uuid(*tenant.id_ref().value())
}

#[tokio::test]
async fn a_tenant_over_its_daily_requests_gets_429_and_others_go_on() {
    let w = world();
    let quotas = quotas();
    let app = app(&w, &quotas);
    for _ in 0..3 {
        assert_eq!(send(&app, &w.free, Method::GET).await.0, StatusCode::OK);
    }
    let (status, retry_after, body) = send(&app, &w.free, Method::GET).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Seconds to the next midnight UTC.
    let retry_after: u64 = retry_after.unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let to_midnight = 86_400 - now % 86_400;
    assert!(
        retry_after.abs_diff(to_midnight) <= 2,
        "{retry_after} vs {to_midnight}"
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "tenant_quota_exceeded");
    let reason = body["error"].as_str().unwrap();
    assert!(reason.contains("allows 3 requests per day"), "{reason}");
    // Refused requests do not count; the pro tenant has no daily quota.
    assert_eq!(quotas.requests_today(&id(&w.free)), 3);
    for _ in 0..10 {
        assert_eq!(send(&app, &w.pro, Method::POST).await.0, StatusCode::OK);
    }
    assert_eq!(quotas.requests_today(&id(&w.pro)), 0, "not counted");
}

#[tokio::test]
async fn over_its_storage_a_tenant_may_read_but_not_write() {
    let w = world();
    let quotas = quotas();
    let app = app(&w, &quotas);
    quotas.set_storage(id(&w.free), 999);
    assert_eq!(send(&app, &w.free, Method::POST).await.0, StatusCode::OK);
    quotas.set_storage(id(&w.free), 1_000);
    let (status, retry_after, body) = send(&app, &w.free, Method::POST).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(retry_after, None);
    assert!(body.contains("allows 1000 bytes of storage"), "{body}");
    assert_eq!(send(&app, &w.free, Method::GET).await.0, StatusCode::OK);
    // Another tenant with as much storage has no storage quota.
    quotas.set_storage(id(&w.pro), 1_000_000);
    assert_eq!(send(&app, &w.pro, Method::POST).await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_the_tenant_layer_inside_it_answers_500() {
    let w = world();
    let app = Router::new()
        .route("/orders", get(|| async { "list" }))
        .layer(
            TenantLayer::builder(w.store.clone())
                .strategy(Header::x_tenant())
                .build(),
        )
        .layer(quotas());
    let (status, _, body) = send(&app, &w.free, Method::GET).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("tenant_layer_missing"), "{body}");
}

#[tokio::test]
async fn its_answers_are_rendered_by_the_renderer_given() {
    let w = world();
    let plain = |r: &tenancy_tower::TenantRejection| {
        http::Response::builder()
            .status(r.status())
            .body(format!("plain: {}", r.code()))
            .unwrap()
    };
    let quotas = quotas().render_rejections_with(plain);
    let app = app(&w, &quotas);
    for _ in 0..3 {
        send(&app, &w.free, Method::GET).await;
    }
    let (status, retry_after, body) = send(&app, &w.free, Method::GET).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, "plain: tenant_quota_exceeded");
    // The renderer set no Retry-After; the layer adds it.
    assert!(retry_after.is_some());
}
