//! The actix-web middleware keeps tenancy-tower's end-to-end contract: the
//! tenant reaches the handler (extractor and task-local), every rejection
//! has the same status and JSON reason, and a rejected request never runs
//! the handler.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpMessage, HttpResponse, test, web};
use tenancy_actix::{CurrentTenant, TenantMiddleware};
use tenancy_core::{InMemoryTenantStore, Tenant, TenantContext, TenantId, TenantStatus};
use tenancy_tower::strategy::{Header, PathPrefix};
use tenancy_tower::{TenantClaim, TenantKey, TenantLayer};

#[derive(Clone)]
struct Claims(TenantId);

impl TenantClaim for Claims {
    fn tenant_key(&self) -> Option<TenantKey> {
        Some(TenantKey::Id(self.0))
    }
}

struct World {
    store: InMemoryTenantStore,
    acme: Tenant,
    globex: Tenant,
}

fn world() -> World {
    let store = InMemoryTenantStore::new();
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let globex = Tenant::builder(TenantId::new_v4(), "globex".parse().unwrap()).build();
    let suspended = Tenant::builder(TenantId::new_v4(), "initech".parse().unwrap())
        .status(TenantStatus::Suspended)
        .build();
    for t in [&acme, &globex, &suspended] {
        store.insert(t.clone());
    }
    World {
        store,
        acme,
        globex,
    }
}

/// `GET /whoami`: the extractor's tenant and the task-local one, which
/// must agree.
async fn whoami(
    CurrentTenant(tenant): CurrentTenant,
    calls: web::Data<AtomicUsize>,
) -> HttpResponse {
    calls.fetch_add(1, Ordering::SeqCst);
    let current = TenantContext::current().map(|t| t.slug().to_string());
    HttpResponse::Ok().body(format!("{}|{}", tenant.slug(), current.unwrap_or_default()))
}

async fn body_of<B: actix_web::body::MessageBody>(response: ServiceResponse<B>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// An app that resolves the tenant from `X-Tenant` in `store` and answers
/// `GET` and `POST /whoami`, counting the handler's calls in `calls`.
async fn whoami_app(
    store: &InMemoryTenantStore,
    calls: &web::Data<AtomicUsize>,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<actix_web::body::EitherBody<actix_web::body::BoxBody>>,
    Error = actix_web::Error,
> {
    let layer = TenantLayer::builder(store.clone())
        .strategy(Header::x_tenant())
        .build();
    test::init_service(
        App::new()
            .app_data(calls.clone())
            .wrap(TenantMiddleware::new(layer))
            .route("/whoami", web::get().to(whoami))
            .route("/whoami", web::post().to(whoami)),
    )
    .await
}

#[actix_web::test]
async fn the_tenant_reaches_the_handler_and_every_rejection_keeps_its_status() {
    let w = world();
    let calls = web::Data::new(AtomicUsize::new(0));
    let app = whoami_app(&w.store, &calls).await;
    let get = |tenant: Option<&str>| {
        let mut request = test::TestRequest::get().uri("/whoami");
        if let Some(tenant) = tenant {
            request = request.insert_header(("x-tenant", tenant));
        }
        request.to_request()
    };

    assert_eq!(
        body_of(test::call_service(&app, get(Some("acme"))).await).await,
        (200, "acme|acme".to_owned())
    );
    let by_id = w.globex.id().to_string();
    assert_eq!(
        body_of(test::call_service(&app, get(Some(&by_id))).await).await,
        (200, "globex|globex".to_owned())
    );
    let acme_by_id = w.acme.id().to_string();
    assert_eq!(
        body_of(test::call_service(&app, get(Some(&acme_by_id))).await).await,
        (200, "acme|acme".to_owned())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    for (tenant, status, reason) in [
        (Some("ghost"), 404, "Tenant not found"),
        (Some("initech"), 403, "Tenant suspended"),
        (Some("acme corp"), 400, "Malformed tenant (header)"),
        (None, 400, "No tenant in request"),
    ] {
        let response = test::call_service(&app, get(tenant)).await;
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/json"),
            "{tenant:?}"
        );
        let (got, body) = body_of(response).await;
        assert_eq!(got, status, "{tenant:?}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            json["error"].as_str().unwrap().starts_with(reason),
            "{tenant:?}: {body}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "no rejected request ran the handler"
    );
}

#[actix_web::test]
async fn a_token_for_another_tenant_is_403_and_a_stripped_prefix_routes() {
    let w = world();
    let calls = web::Data::new(AtomicUsize::new(0));
    let layer = TenantLayer::builder(w.store.clone())
        .strategy(PathPrefix::new("/t/").strip())
        .token_claim::<Claims>()
        .require_token()
        .build();
    let globex = w.globex.id();
    let app = test::init_service(
        App::new()
            .app_data(calls.clone())
            .wrap(TenantMiddleware::new(layer).claims::<Claims>())
            // The authentication in front: a token of globex, when sent.
            .wrap_fn(move |request, service| {
                if request.headers().contains_key("authorization") {
                    request.extensions_mut().insert(Claims(globex));
                }
                service.call(request)
            })
            .route("/whoami", web::get().to(whoami)),
    )
    .await;
    let get = |path: &str, token: bool| {
        let mut request = test::TestRequest::get().uri(path);
        if token {
            request = request.insert_header(("authorization", "Bearer globex"));
        }
        request.to_request()
    };
    assert_eq!(
        body_of(test::call_service(&app, get("/t/globex/whoami", true)).await).await,
        (200, "globex|globex".to_owned())
    );
    assert_eq!(
        body_of(test::call_service(&app, get("/t/acme/whoami", true)).await)
            .await
            .0,
        403
    );
    assert_eq!(
        body_of(test::call_service(&app, get("/t/globex/whoami", false)).await)
            .await
            .0,
        401
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn bigint_tenant_ids_and_a_missing_middleware() {
    async fn account(CurrentTenant(tenant): CurrentTenant<i64>) -> HttpResponse {
        HttpResponse::Ok().body(tenant.id().to_string())
    }
    let store = InMemoryTenantStore::<i64>::default();
    store.insert(Tenant::builder(TenantId::new(42_i64).unwrap(), "acme".parse().unwrap()).build());
    let layer = TenantLayer::builder(store)
        .strategy(Header::x_tenant())
        .build();
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .wrap(TenantMiddleware::new(layer))
                    .route("/account", web::get().to(account)),
            )
            // Outside the scope: no middleware, the extractor refuses.
            .route("/unguarded", web::get().to(account)),
    )
    .await;
    let get = |path: &str, tenant: &str| {
        test::TestRequest::get()
            .uri(path)
            .insert_header(("x-tenant", tenant))
            .to_request()
    };
    assert_eq!(
        body_of(test::call_service(&app, get("/api/account", "42")).await).await,
        (200, "42".to_owned())
    );
    assert_eq!(
        body_of(test::call_service(&app, get("/api/account", "acme")).await)
            .await
            .1,
        "42"
    );
    let (status, body) = body_of(test::call_service(&app, get("/api/account", "0")).await).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("positive whole number"), "{body}");
    assert_eq!(
        body_of(test::call_service(&app, get("/api/account", "7")).await)
            .await
            .0,
        404
    );
    let (status, body) = body_of(test::call_service(&app, get("/unguarded", "42")).await).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("error"), "{body}");
}

#[actix_web::test]
async fn a_moving_tenant_is_read_but_its_writes_wait_with_503_and_retry_after() {
    let w = world();
    let moving = Tenant::builder(TenantId::new_v4(), "hooli".parse().unwrap())
        .status(TenantStatus::Moving)
        .build();
    w.store.insert(moving);
    let calls = web::Data::new(AtomicUsize::new(0));
    let app = whoami_app(&w.store, &calls).await;
    let read = test::TestRequest::get()
        .uri("/whoami")
        .insert_header(("x-tenant", "hooli"))
        .to_request();
    assert_eq!(
        body_of(test::call_service(&app, read).await).await,
        (200, "hooli|hooli".to_owned())
    );
    let write = test::TestRequest::post()
        .uri("/whoami")
        .insert_header(("x-tenant", "hooli"))
        .to_request();
    let response = test::call_service(&app, write).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some(tenancy_tower::MOVE_RETRY_AFTER_SECS.to_string())
    );
    let (status, body) = body_of(response).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("tenant_moving"), "{body}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the write never ran");
}
