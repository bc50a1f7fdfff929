//! End to end through axum: two tenants, one handler, every strategy and
//! every rejection code.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    clippy::unnecessary_wraps
)] // test helpers

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tenancy_core::{
    InMemoryTenantStore, Lookup, StoreError, Tenant, TenantContext, TenantId, TenantLimits,
    TenantSettings, TenantStatus, TenantStore,
};
use tenancy_tower::limit::{TenantConcurrencyLimitLayer, TenantRateLimitLayer};
use tenancy_tower::strategy::{CustomDomain, Header, PathPrefix, Subdomain};
use tenancy_tower::{
    CurrentTenant, ResolutionMode, TenantClaim, TenantKey, TenantLayer, TenantRejection,
    TenantService,
};
use tower::Layer;
use tower::ServiceExt;

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
    initech: Tenant,
}

fn world() -> World {
    let store = InMemoryTenantStore::new();
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap())
        .name("Acme")
        .build();
    let globex = Tenant::builder(TenantId::new_v4(), "globex".parse().unwrap())
        .name("Globex")
        .build();
    let initech = Tenant::builder(TenantId::new_v4(), "initech".parse().unwrap())
        .status(TenantStatus::Suspended)
        .build();
    for t in [&acme, &globex, &initech] {
        store.insert(t.clone());
    }
    store.add_domain("orders.acme-corp.com", acme.id());
    World {
        store,
        acme,
        globex,
        initech,
    }
}

/// The same tenants, answered only asynchronously (like a database-backed
/// store): requests take the layer's awaited path instead of the in-memory
/// one ([`TenantStore::lookup_now`]).
struct Awaited(InMemoryTenantStore);

#[async_trait::async_trait]
impl TenantStore for Awaited {
    async fn lookup(&self, key: &TenantKey) -> Result<Lookup, StoreError> {
        tokio::task::yield_now().await;
        self.0.lookup(key).await
    }
}

/// The world's store answering from memory, and answering only after an
/// await: every outcome must be the same either way.
fn both_stores(w: &World) -> [(&'static str, Arc<dyn TenantStore>); 2] {
    [
        ("in memory", Arc::new(w.store.clone())),
        ("awaited", Arc::new(Awaited(w.store.clone()))),
    ]
}

/// The handler answers with the tenant from the extractor AND from the
/// task-local context, so both paths are checked.
async fn whoami(CurrentTenant(tenant): CurrentTenant) -> String {
    tokio::task::yield_now().await;
    let ctx = TenantContext::current()
        .map(|t| t.slug().to_string())
        .unwrap_or_default();
    format!("{}|{ctx}", tenant.slug())
}

/// The layer wraps the whole router (not `Router::layer`, which runs after
/// routing), so the path strategy can strip `/t/{slug}` before routing.
fn app(layer: TenantLayer) -> TenantService<Router> {
    layer.layer(
        Router::new()
            .route("/whoami", get(whoami))
            .route("/orders/{id}", get(whoami)),
    )
}

fn app_with(store: impl TenantStore, router: Router) -> TenantService<Router> {
    TenantLayer::builder(store)
        .strategy(Subdomain::of("example.com"))
        .build()
        .layer(router)
}

fn all_strategies(store: impl TenantStore) -> TenantLayer {
    TenantLayer::builder(store)
        .strategy(Subdomain::of("example.com"))
        .strategy(Header::x_tenant())
        .strategy(PathPrefix::new("/t").strip())
        .strategy(CustomDomain::new().except(["example.com", "example.net"]))
        .token_claim::<Claims>()
        .build()
}

async fn send<S>(app: &S, request: Request<Body>) -> (StatusCode, String)
where
    S: tower::Service<
            Request<Body>,
            Response = http::Response<Body>,
            Error = std::convert::Infallible,
        > + Clone,
{
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get_req(host: &str, uri: &str) -> http::request::Builder {
    Request::builder().uri(uri).header("host", host)
}

#[tokio::test]
async fn every_strategy_resolves_the_right_tenant() {
    let w = world();
    for (how, store) in both_stores(&w) {
        let app = app(all_strategies(store));
        every_strategy_resolves_the_right_tenant_with(&w, &app, how).await;
    }
}

async fn every_strategy_resolves_the_right_tenant_with(
    w: &World,
    app: &TenantService<Router>,
    how: &str,
) {
    let cases = [
        (get_req("acme.example.com", "/whoami"), "acme|acme"),
        (
            get_req("globex.example.com:8080", "/whoami"),
            "globex|globex",
        ),
        (
            get_req("example.net", "/whoami").header("x-tenant", "globex"),
            "globex|globex",
        ),
        (
            get_req("example.net", "/whoami").header("x-tenant", w.acme.id().to_string()),
            "acme|acme",
        ),
        (get_req("example.net", "/t/globex/whoami"), "globex|globex"),
        (get_req("orders.acme-corp.com", "/whoami"), "acme|acme"),
    ];
    for (request, want) in cases {
        let (status, body) = send(app, request.body(Body::empty()).unwrap()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, want), "{how}");
    }
}

#[tokio::test]
async fn every_rejection_has_its_status_and_a_json_reason() {
    let w = world();
    for (how, store) in both_stores(&w) {
        let app = app(all_strategies(store));
        every_rejection_has_its_status_and_a_json_reason_with(&w, &app, how).await;
    }
}

async fn every_rejection_has_its_status_and_a_json_reason_with(
    w: &World,
    app: &TenantService<Router>,
    how: &str,
) {
    let cases = [
        (
            get_req("example.net", "/whoami"),
            StatusCode::BAD_REQUEST,
            "tenant_missing",
        ),
        (
            get_req("a.b.example.com", "/whoami"),
            StatusCode::BAD_REQUEST,
            "tenant_malformed",
        ),
        (
            get_req("example.net", "/whoami").header("x-tenant", "acme'--"),
            StatusCode::BAD_REQUEST,
            "tenant_malformed",
        ),
        (
            get_req("acme.example.com", "/whoami").header("x-tenant", "globex"),
            StatusCode::BAD_REQUEST,
            "tenant_conflict",
        ),
        (
            get_req("nobody.example.com", "/whoami"),
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        ),
        (
            get_req("evil.example.org", "/whoami"),
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        ),
        (
            get_req("initech.example.com", "/whoami"),
            StatusCode::FORBIDDEN,
            "tenant_suspended",
        ),
        (
            get_req("globex.example.com", "/whoami").extension(Claims(w.acme.id())),
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
        ),
        (
            get_req("example.net", "/whoami")
                .header("x-tenant", "globex")
                .extension(Claims(w.acme.id())),
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = send(app, request.body(Body::empty()).unwrap()).await;
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
        assert_eq!(
            (got, json["code"].as_str().unwrap()),
            (status, code),
            "{how}: {body}"
        );
        assert!(!json["error"].as_str().unwrap().is_empty());
    }
    let (_, body) = send(
        app,
        get_req("nobody.example.com", "/x")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(body.contains("Tenant not found"));
    // Keep the suspended tenant referenced (and its slug stable).
    assert_eq!(w.initech.slug().as_str(), "initech");
}

#[tokio::test]
async fn a_token_alone_verifies_but_does_not_address_unless_allowed() {
    let w = world();
    let token_only = || {
        get_req("example.net", "/whoami")
            .extension(Claims(w.globex.id()))
            .body(Body::empty())
            .unwrap()
    };
    let strict = app(all_strategies(w.store.clone()));
    assert_eq!(send(&strict, token_only()).await.0, StatusCode::BAD_REQUEST);
    let lenient = app(TenantLayer::builder(w.store.clone())
        .strategy(Header::x_tenant())
        .token_claim::<Claims>()
        .tenant_from_token()
        .build());
    let (status, body) = send(&lenient, token_only()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "globex|globex"));
}

#[tokio::test]
async fn a_required_token_is_401_when_missing() {
    let w = world();
    let layer = TenantLayer::builder(w.store.clone())
        .strategy(Subdomain::of("example.com"))
        .token_claim::<Claims>()
        .require_token()
        .build();
    let app = app(layer);
    let (status, _) = send(
        &app,
        get_req("acme.example.com", "/whoami")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ok = get_req("acme.example.com", "/whoami").extension(Claims(w.acme.id()));
    assert_eq!(
        send(&app, ok.body(Body::empty()).unwrap()).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn first_match_takes_the_first_strategy_in_order() {
    let w = world();
    let layer = TenantLayer::builder(w.store.clone())
        .strategy(Header::x_tenant())
        .strategy(Subdomain::of("example.com"))
        .mode(ResolutionMode::FirstMatch)
        .build();
    let app = app(layer);
    let req = get_req("acme.example.com", "/whoami").header("x-tenant", "globex");
    let (status, body) = send(&app, req.body(Body::empty()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "globex|globex"));
}

#[tokio::test]
async fn a_failing_store_is_503_never_a_tenant() {
    struct Down;
    #[async_trait::async_trait]
    impl TenantStore for Down {
        async fn lookup(&self, _: &TenantKey) -> Result<Lookup, StoreError> {
            Err(StoreError::new("connection refused"))
        }
    }
    let app = app(TenantLayer::builder(Down)
        .strategy(Subdomain::of("example.com"))
        .build());
    let (status, body) = send(
        &app,
        get_req("acme.example.com", "/whoami")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn custom_rendering_replaces_the_json() {
    let w = world();
    let layer = TenantLayer::builder(w.store.clone())
        .strategy(Subdomain::of("example.com"))
        .render_rejections_with(|r: &tenancy_tower::TenantRejection| {
            let mut response = http::Response::new(format!("nope: {}", r.code()));
            *response.status_mut() = r.status();
            response
        })
        .build();
    let (status, body) = send(
        &app(layer),
        get_req("ghost.example.com", "/")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "nope: tenant_not_found")
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_says_what_is_missing() {
    let app = Router::new().route("/whoami", get(whoami));
    let (status, body) = send(
        &app,
        get_req("acme.example.com", "/whoami")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("add TenantLayer"), "{body}");
}

/// One renderer for every rejection: the tenant layer's and the limit's.
#[tokio::test]
async fn the_limit_layers_render_through_the_same_replaceable_renderer() {
    let w = world();
    let tiny = w
        .acme
        .to_builder()
        .settings(
            TenantSettings::default().with_limits(
                TenantLimits::none()
                    .with_requests_per_second(1)
                    .with_burst(1),
            ),
        )
        .build();
    w.store.insert(tiny);
    let plain = |r: &tenancy_tower::TenantRejection| {
        http::Response::builder()
            .status(r.status())
            .body(format!("plain: {}", r.code()))
            .unwrap()
    };
    let app = Router::new().route("/whoami", get(whoami)).layer(
        tower::ServiceBuilder::new()
            .layer(
                TenantLayer::builder(w.store.clone())
                    .strategy(Subdomain::of("example.com"))
                    .render_rejections_with(plain)
                    .build(),
            )
            .layer(
                TenantRateLimitLayer::new(NonZeroU32::new(1000).unwrap())
                    .render_rejections_with(plain),
            ),
    );
    let req = |host: &str| get_req(host, "/whoami").body(Body::empty()).unwrap();
    assert_eq!(send(&app, req("acme.example.com")).await.0, StatusCode::OK);
    let response = app.clone().oneshot(req("acme.example.com")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The renderer did not set Retry-After; the layer adds it.
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = send(&app, req("acme.example.com")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "plain: tenant_rate_limited")
    );
    let (status, body) = send(&app, req("nobody.example.com")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "plain: tenant_not_found")
    );
}

#[tokio::test]
async fn per_tenant_rate_limit_answers_429_with_retry_after() {
    let w = world();
    let slow = w
        .acme
        .to_builder()
        .settings(
            TenantSettings::default().with_limits(
                TenantLimits::none()
                    .with_requests_per_second(1)
                    .with_burst(2),
            ),
        )
        .build();
    w.store.insert(slow);
    let app = Router::new().route("/whoami", get(whoami)).layer(
        tower::ServiceBuilder::new()
            .layer(
                TenantLayer::builder(w.store.clone())
                    .strategy(Subdomain::of("example.com"))
                    .build(),
            )
            .layer(TenantRateLimitLayer::new(NonZeroU32::new(1000).unwrap())),
    );
    let req = |host: &str| get_req(host, "/whoami").body(Body::empty()).unwrap();
    assert_eq!(send(&app, req("acme.example.com")).await.0, StatusCode::OK);
    assert_eq!(send(&app, req("acme.example.com")).await.0, StatusCode::OK);
    let response = app.clone().oneshot(req("acme.example.com")).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    // The noisy tenant does not slow its neighbour down.
    for _ in 0..10 {
        assert_eq!(
            send(&app, req("globex.example.com")).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn per_tenant_concurrency_limit_answers_429() {
    let w = world();
    // The handler reports that it is running, then waits at a closed gate:
    // no sleeps, so a loaded machine cannot reorder the requests.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let handler_gate = gate.clone();
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let app = Router::new()
        .route(
            "/slow",
            get(move || {
                let (gate, entered_tx) = (handler_gate.clone(), entered_tx.clone());
                async move {
                    let _ = entered_tx.send(());
                    let _permit = gate.acquire().await;
                    "done"
                }
            }),
        )
        .layer(
            tower::ServiceBuilder::new()
                .layer(
                    TenantLayer::builder(w.store.clone())
                        .strategy(Subdomain::of("example.com"))
                        .build(),
                )
                .layer(TenantConcurrencyLimitLayer::new(
                    NonZeroU32::new(1).unwrap(),
                )),
        );
    let req = |host: &str| get_req(host, "/slow").body(Body::empty()).unwrap();
    let first = tokio::spawn(app.clone().oneshot(req("acme.example.com")));
    entered.recv().await.unwrap();
    let second = app.clone().oneshot(req("acme.example.com")).await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another tenant is not blocked by acme's request in flight.
    let other = tokio::spawn(app.clone().oneshot(req("globex.example.com")));
    entered.recv().await.unwrap();
    gate.add_permits(2);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(other.await.unwrap().unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn streamed_bodies_need_the_tenant_carried_in() {
    use tenancy_core::WithTenant;

    /// A body that asks for the tenant when it is polled, after the handler returned.
    fn body(carried: Option<Tenant>) -> Body {
        let chunk = async {
            Ok::<_, std::convert::Infallible>(
                TenantContext::current()
                    .map_or_else(|e| format!("missing: {e}"), |t| t.slug().to_string()),
            )
        };
        let stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = _> + Send>> = match carried {
            Some(tenant) => Box::pin(futures_util::stream::once(chunk.with_tenant(tenant))),
            None => Box::pin(futures_util::stream::once(chunk)),
        };
        Body::from_stream(stream)
    }

    let w = world();
    let app = app_with(
        w.store.clone(),
        Router::new()
            .route("/plain", get(|| async { body(None) }))
            .route(
                "/carried",
                get(|CurrentTenant(t): CurrentTenant| async move { body(Some(t)) }),
            ),
    );
    let (status, plain) = send(
        &app,
        get_req("acme.example.com", "/plain")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        plain.starts_with("missing:"),
        "a streamed body is polled outside the request scope: {plain}"
    );
    let (_, carried) = send(
        &app,
        get_req("acme.example.com", "/carried")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(carried, "acme");
}

/// `TenantLayer::resolve` (for frameworks other than tower) answers as the
/// layer does, from either kind of store: the tenant, with the path prefix
/// stripped; or the rendered rejection, by the layer's renderer.
#[tokio::test]
async fn resolve_without_tower_answers_as_the_layer() {
    let w = world();
    for (kind, store) in both_stores(&w) {
        let layer = TenantLayer::builder(store)
            .strategy(Header::x_tenant())
            .strategy(PathPrefix::new("/t").strip())
            .build();
        let (mut parts, ()) = Request::get("/t/globex/orders?page=2")
            .body(())
            .unwrap()
            .into_parts();
        let tenant = layer.resolve(&mut parts).await.unwrap();
        assert_eq!(tenant.id(), w.globex.id(), "{kind}");
        assert_eq!(parts.uri, "/orders?page=2", "{kind}");

        for (header, status, code) in [
            ("ghost", StatusCode::NOT_FOUND, "tenant_not_found"),
            ("initech", StatusCode::FORBIDDEN, "tenant_suspended"),
            ("acme corp", StatusCode::BAD_REQUEST, "tenant_malformed"),
        ] {
            let (mut parts, ()) = Request::get("/orders")
                .header("x-tenant", header)
                .body(())
                .unwrap()
                .into_parts();
            let response = layer.resolve(&mut parts).await.unwrap_err();
            assert_eq!(response.status(), status, "{kind}: {header}");
            let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
            assert_eq!(body["code"], code, "{kind}: {header}");
            assert_eq!(
                response.headers()[http::header::CONTENT_TYPE],
                "application/json"
            );
        }
    }

    // A layer with its own renderer renders with it, through resolve and
    // through render_rejection (for requests refused before resolve).
    let teapot = |rejection: &TenantRejection| {
        let mut response = http::Response::new(format!("no: {}", rejection.code()));
        *response.status_mut() = StatusCode::IM_A_TEAPOT;
        response
    };
    let layer = TenantLayer::builder(w.store.clone())
        .strategy(Header::x_tenant())
        .render_rejections_with(teapot)
        .build();
    let (mut parts, ()) = Request::get("/").body(()).unwrap().into_parts();
    let response = layer.resolve(&mut parts).await.unwrap_err();
    assert_eq!(
        (response.status(), response.body().as_str()),
        (StatusCode::IM_A_TEAPOT, "no: tenant_missing")
    );
    let response = layer.render_rejection(&TenantRejection::Conflict);
    assert_eq!(
        (response.status(), response.body().as_str()),
        (StatusCode::IM_A_TEAPOT, "no: tenant_conflict")
    );
    let default = TenantLayer::builder(w.store.clone()).build();
    let response = default.render_rejection(&TenantRejection::Mismatch);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.body().contains("tenant_mismatch"),
        "{}",
        response.body()
    );
}

/// The layer is as ready as the service it wraps: an inner service that
/// cannot take requests is not hidden behind a layer that says it can.
#[tokio::test]
async fn the_layer_passes_on_the_inner_services_readiness() {
    #[derive(Clone)]
    struct Closed;
    impl tower::Service<Request<Body>> for Closed {
        type Response = http::Response<String>;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Err("closed"))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            std::future::ready(Err("called while closed"))
        }
    }
    let w = world();
    let mut service = TenantLayer::builder(w.store.clone())
        .strategy(Header::x_tenant())
        .build()
        .layer(Closed);
    assert_eq!(service.ready().await.err(), Some("closed"));
}

/// A handler may refuse with a `TenantRejection` itself: axum answers with
/// the same status and JSON body as the layer.
#[tokio::test]
async fn a_rejection_returned_by_a_handler_is_its_status_and_json() {
    async fn refuse() -> Result<String, TenantRejection> {
        Err(TenantRejection::Suspended)
    }
    let w = world();
    let app = app_with(w.store.clone(), Router::new().route("/refuse", get(refuse)));
    let (status, body) = send(
        &app,
        get_req("acme.example.com", "/refuse")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "tenant_suspended");
    assert_eq!(body["error"], "Tenant suspended");
}

/// A token that names no tenant is refused (403) wherever the request
/// comes from; a request without a token passes unless one is required.
#[tokio::test]
async fn a_token_without_a_tenant_is_403() {
    #[derive(Clone)]
    struct Anonymous;
    impl TenantClaim for Anonymous {
        fn tenant_key(&self) -> Option<TenantKey> {
            None
        }
    }
    let w = world();
    for (kind, store) in both_stores(&w) {
        let app = app(TenantLayer::builder(store)
            .strategy(Subdomain::of("example.com"))
            .token_claim::<Anonymous>()
            .build());
        let anonymous = get_req("acme.example.com", "/whoami").extension(Anonymous);
        let (status, body) = send(&app, anonymous.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{kind}: {body}");
        assert!(body.contains("tenant_mismatch"), "{kind}: {body}");
        let no_token = get_req("acme.example.com", "/whoami");
        let (status, body) = send(&app, no_token.body(Body::empty()).unwrap()).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "acme|acme"),
            "{kind}"
        );
    }
}

/// `GET /whoami` at `host`, naming `tenant` in the `X-Tenant` header.
fn whoami_at(host: &str, tenant: &str) -> Request<Body> {
    get_req(host, "/whoami")
        .header("x-tenant", tenant)
        .body(Body::empty())
        .unwrap()
}

/// A custom domain that another strategy cross-checks must belong to the
/// same tenant: the store tells, and a domain of another tenant (or of no
/// one) is a conflict.
#[tokio::test]
async fn a_custom_domain_is_cross_checked_through_the_store() {
    let w = world();
    for (kind, store) in both_stores(&w) {
        let app = app(TenantLayer::builder(store)
            .strategy(Header::x_tenant())
            .strategy(CustomDomain::new().except(["example.com"]))
            .build());
        let (status, body) = send(&app, whoami_at("orders.acme-corp.com", "acme")).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "acme|acme"),
            "{kind}"
        );
        for (host, tenant) in [
            ("orders.acme-corp.com", "globex"),
            ("unknown-shop.com", "acme"),
        ] {
            let (status, body) = send(&app, whoami_at(host, tenant)).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{kind}: {host} {tenant}: {body}"
            );
            assert!(body.contains("tenant_conflict"), "{kind}: {body}");
        }
    }
}

/// A store that must be awaited asks the database once per key a
/// request names, however many strategies and checks use it.
#[tokio::test]
async fn the_awaited_path_asks_the_store_once_per_key() {
    struct Counted(InMemoryTenantStore, std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl TenantStore for Counted {
        async fn lookup(&self, key: &TenantKey) -> Result<Lookup, StoreError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.0.lookup(key).await
        }
    }

    let w = world();
    let store = Arc::new(Counted(w.store.clone(), 0.into()));
    let app = app(TenantLayer::builder(store.clone())
        .strategy(Header::x_tenant())
        .strategy(CustomDomain::new().except(["example.com"]))
        .build());
    // The slug and the domain: two keys, two lookups.
    let (status, body) = send(&app, whoami_at("orders.acme-corp.com", "acme")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "acme|acme"));
    assert_eq!(store.1.load(std::sync::atomic::Ordering::SeqCst), 2);
    // An unknown tenant stops at the first key.
    let (status, _) = send(&app, whoami_at("orders.acme-corp.com", "ghost")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(store.1.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_moving_tenant_is_read_but_its_writes_wait_with_503_and_retry_after() {
    let w = world();
    let moving = Tenant::builder(TenantId::new_v4(), "hooli".parse().unwrap())
        .status(TenantStatus::Moving)
        .build();
    w.store.insert(moving);
    for (label, store) in both_stores(&w) {
        let app = app_with(
            store,
            Router::new().route("/whoami", get(whoami).post(whoami).delete(whoami)),
        );
        let (status, body) = send(
            &app,
            get_req("hooli.example.com", "/whoami")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "hooli|hooli"),
            "{label}"
        );
        for method in [
            http::Method::POST,
            http::Method::DELETE,
            http::Method::PATCH,
        ] {
            let response = app
                .clone()
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri("http://hooli.example.com/whoami")
                        .header("host", "hooli.example.com")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{label} {method}"
            );
            assert_eq!(
                response.headers()[http::header::RETRY_AFTER],
                tenancy_tower::MOVE_RETRY_AFTER_SECS.to_string().as_str(),
                "{label} {method}"
            );
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(
                String::from_utf8_lossy(&body).contains("tenant_moving"),
                "{label} {method}"
            );
        }
        // A neighbour's writes are not held up.
        let response = app
            .clone()
            .oneshot(
                Request::post("http://acme.example.com/whoami")
                    .header("host", "acme.example.com")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{label}");
    }
}
