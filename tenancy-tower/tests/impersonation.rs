//! Impersonation tokens: a staff member acting as a tenant's user gets the
//! same cross-checks as any token, a tenant marked with who acts, and a
//! 401 for a token that expired or lives too long.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantContext, TenantId};
use tenancy_tower::strategy::Subdomain;
use tenancy_tower::{Impersonation, MAX_IMPERSONATION, TenantClaim, TenantKey, TenantLayer};
use tower::{Layer, ServiceExt};

/// What an authentication layer verified: the tenant, and for an
/// impersonation token the staff member and its expiry.
#[derive(Clone)]
struct Claims {
    tenant: TenantId,
    acting: Option<(String, SystemTime)>,
}

impl TenantClaim for Claims {
    fn tenant_key(&self) -> Option<TenantKey> {
        Some(TenantKey::Id(self.tenant))
    }

    fn impersonation(&self) -> Option<Impersonation> {
        self.acting
            .as_ref()
            .map(|(staff, until)| Impersonation::new(staff.clone(), *until))
    }
}

/// Answers `slug` or `slug as staff`, from the task-local context.
async fn whoami() -> String {
    let tenant = TenantContext::current().unwrap();
    match tenant.impersonated_by() {
        Some(staff) => format!("{} as {staff}", tenant.slug()),
        None => tenant.slug().to_string(),
    }
}

async fn send(host: &str, claims: Claims) -> (StatusCode, String) {
    let store = InMemoryTenantStore::new();
    for (id, slug) in [(acme(), "acme"), (globex(), "globex")] {
        store.insert(Tenant::builder(id, slug.parse().unwrap()).build());
    }
    let app = TenantLayer::builder(store)
        .strategy(Subdomain::of("example.com"))
        .token_claim::<Claims>()
        .require_token()
        .build()
        .layer(Router::new().route("/", get(whoami)));
    let request = Request::get("/")
        .header("host", host)
        .extension(claims)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn acme() -> TenantId {
    TenantId::from(tenancy_core::uuid::Uuid::from_u128(1))
}

fn globex() -> TenantId {
    TenantId::from(tenancy_core::uuid::Uuid::from_u128(2))
}

fn acting(tenant: TenantId, staff: &str, lives: Duration) -> Claims {
    Claims {
        tenant,
        acting: Some((staff.to_owned(), SystemTime::now() + lives)),
    }
}

#[tokio::test]
async fn a_staff_member_acts_as_the_tenant_with_the_same_cross_checks() {
    let fifteen = Duration::from_mins(15);
    assert_eq!(
        send("acme.example.com", acting(acme(), "jane@support", fifteen)).await,
        (StatusCode::OK, "acme as jane@support".to_owned())
    );
    // An ordinary token is no one's impersonation.
    let plain = Claims {
        tenant: acme(),
        acting: None,
    };
    assert_eq!(
        send("acme.example.com", plain).await,
        (StatusCode::OK, "acme".to_owned())
    );
    // acme's impersonation token on globex's host: refused as any token.
    let (status, body) = send(
        "globex.example.com",
        acting(acme(), "jane@support", fifteen),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("tenant_mismatch"), "{body}");
}

#[tokio::test]
async fn an_expired_or_long_lived_impersonation_token_is_a_401() {
    let now = SystemTime::now();
    for until in [
        now - Duration::from_secs(1),
        now + MAX_IMPERSONATION + Duration::from_mins(5),
    ] {
        let claims = Claims {
            tenant: acme(),
            acting: Some(("jane@support".to_owned(), until)),
        };
        let (status, body) = send("acme.example.com", claims).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("impersonation_expired"), "{body}");
        assert!(body.contains("60 minutes"), "{body}");
    }
    // Just inside the hour: accepted.
    let (status, _) = send(
        "acme.example.com",
        acting(
            acme(),
            "jane@support",
            MAX_IMPERSONATION
                .checked_sub(Duration::from_secs(5))
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
