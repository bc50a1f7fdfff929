//! The meter layer through axum, with a real `metrics` recorder: every
//! request counted under its tenant, route and status, tenant labels
//! bounded, and every tenant still counted under its own id in the ledger.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tenancy_core::{AnyTenant, AnyTenantId, InMemoryTenantStore, Tenant, TenantId, TenantSettings};
use tenancy_metering::{MeterLayer, OTHER, TenantLabels, TenantUsage, UsageLedger};
use tenancy_tower::TenantLayer;
use tenancy_tower::strategy::Header;
use tower::ServiceExt;

struct World {
    store: InMemoryTenantStore,
    tenants: Vec<Tenant>,
}

/// Tenants t0, t1, ..., on the plans given.
fn world(plans: &[&str]) -> World {
    let store = InMemoryTenantStore::new();
    let tenants: Vec<Tenant> = plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            Tenant::builder(TenantId::new_v4(), format!("t{i}").parse().unwrap())
                .settings(TenantSettings::default().with_plan(*plan))
                .build()
        })
        .collect();
    for t in &tenants {
        store.insert(t.clone());
    }
    World { store, tenants }
}

fn app(world: &World, ledger: &UsageLedger) -> Router {
    Router::new()
        .route("/orders/{id}", get(|| async { "order" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/menu", get(|| async { "menu" }))
        .route("/cached", get(|| async { StatusCode::NOT_MODIFIED }))
        .route("/early", get(|| async { StatusCode::CONTINUE }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_hours(1)).await;
                "late"
            }),
        )
        .layer(MeterLayer::new(ledger.clone()))
        .layer(
            TenantLayer::builder(world.store.clone())
                .strategy(Header::x_tenant())
                .build(),
        )
}

async fn get_as(app: &Router, tenant: &Tenant, path: &str) -> StatusCode {
    app.clone()
        .oneshot(
            Request::get(path)
                .header("x-tenant", tenant.slug().as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

/// The recorded metrics as `name{label=value,...}` → counter value or
/// number of histogram samples.
fn metrics(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let value = match value {
                DebugValue::Counter(n) => n,
                DebugValue::Histogram(samples) => samples.len() as u64,
                DebugValue::Gauge(_) => unreachable!("no gauges"),
            };
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

/// A real recorder for this test's thread (the tests run on tokio's
/// current-thread runtime), and what reads it.
fn recording() -> (Snapshotter, metrics::LocalRecorderGuard<'static>) {
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    (
        recorder.snapshotter(),
        metrics::set_default_local_recorder(recorder),
    )
}

fn id(tenant: &Tenant) -> AnyTenantId {
    AnyTenantId::Uuid(*tenant.id_ref().value())
}

fn usage_of(taken: &[(AnyTenantId, TenantUsage)], tenant: &Tenant) -> TenantUsage {
    taken
        .iter()
        .find(|(i, _)| *i == id(tenant))
        .map(|(_, u)| *u)
        .unwrap_or_default()
}

#[tokio::test]
async fn every_request_is_counted_under_its_tenant_route_and_status() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro", "pro"]);
    let (acme, globex) = (&w.tenants[0], &w.tenants[1]);
    let ledger = UsageLedger::new(TenantLabels::top(10));
    let app = app(&w, &ledger);

    assert_eq!(get_as(&app, acme, "/orders/1").await, StatusCode::OK);
    assert_eq!(get_as(&app, acme, "/orders/2").await, StatusCode::OK);
    assert_eq!(
        get_as(&app, acme, "/fail").await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        get_as(&app, globex, "/nowhere").await,
        StatusCode::NOT_FOUND
    );

    let seen = metrics(&snapshotter);
    let (a, g) = (acme.id(), globex.id());
    let expected = BTreeMap::from([
        (
            format!("tenancy_requests_total{{tenant={a},route=/orders/{{id}},status=2xx}}"),
            2,
        ),
        (
            format!("tenancy_requests_total{{tenant={a},route=/fail,status=5xx}}"),
            1,
        ),
        (
            format!("tenancy_requests_total{{tenant={g},route=unmatched,status=4xx}}"),
            1,
        ),
        (
            format!("tenancy_request_duration_seconds{{tenant={a},route=/orders/{{id}}}}"),
            2,
        ),
        (
            format!("tenancy_request_duration_seconds{{tenant={a},route=/fail}}"),
            1,
        ),
        (
            format!("tenancy_request_duration_seconds{{tenant={g},route=unmatched}}"),
            1,
        ),
    ]);
    assert_eq!(seen, expected);

    let taken = ledger.take();
    assert_eq!(taken.len(), 2);
    let acme_usage = usage_of(&taken, acme);
    assert_eq!(
        (
            acme_usage.requests,
            acme_usage.client_errors,
            acme_usage.server_errors
        ),
        (3, 0, 1)
    );
    let globex_usage = usage_of(&taken, globex);
    assert_eq!((globex_usage.requests, globex_usage.client_errors), (1, 1));
    // Taking starts a new period.
    assert!(ledger.take().is_empty());
}

#[tokio::test]
async fn only_the_busiest_tenants_get_a_label_of_their_own() {
    let (snapshotter, _local) = recording();
    let w = world(&["free", "free", "free"]);
    let [t0, t1, t2] = [&w.tenants[0], &w.tenants[1], &w.tenants[2]];
    let ledger = UsageLedger::new(TenantLabels::top(1));
    let app = app(&w, &ledger);

    // First period: the first tenant seen gets the one label.
    get_as(&app, t0, "/orders/1").await;
    for _ in 0..3 {
        get_as(&app, t2, "/orders/1").await;
    }
    get_as(&app, t1, "/orders/1").await;
    let labels = |seen: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        seen.iter()
            .filter(|(k, v)| k.starts_with("tenancy_requests_total") && **v > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    let route = "route=/orders/{id},status=2xx";
    assert_eq!(
        labels(&metrics(&snapshotter)),
        BTreeMap::from([
            (
                format!("tenancy_requests_total{{tenant={},{route}}}", t0.id()),
                1
            ),
            (
                format!("tenancy_requests_total{{tenant={OTHER},{route}}}"),
                4
            ),
        ])
    );
    // The ledger counts each under its own id all the same.
    let taken = ledger.take();
    assert_eq!(
        [t0, t1, t2].map(|t| usage_of(&taken, t).requests),
        [1, 1, 3]
    );

    // Next period: the busiest of the last one, t2, has the label.
    for t in [t0, t1, t2] {
        get_as(&app, t, "/orders/1").await;
    }
    // (A snapshot holds what was counted since the last one.)
    let seen = labels(&metrics(&snapshotter));
    assert_eq!(
        seen,
        BTreeMap::from([
            (
                format!("tenancy_requests_total{{tenant={},{route}}}", t2.id()),
                1
            ),
            (
                format!("tenancy_requests_total{{tenant={OTHER},{route}}}"),
                2
            ),
        ])
    );
}

#[tokio::test]
async fn labels_by_plan_leave_other_plans_as_other() {
    let (snapshotter, _local) = recording();
    let w = world(&["free", "enterprise", "pro"]);
    let ledger = UsageLedger::new(TenantLabels::plans(["enterprise", "pro"]).max(1));
    let app = app(&w, &ledger);
    for t in &w.tenants {
        get_as(&app, t, "/orders/1").await;
    }
    let tenants: Vec<String> = metrics(&snapshotter)
        .keys()
        .filter(|k| k.starts_with("tenancy_requests_total"))
        .map(|k| k.split(',').next().unwrap().to_owned())
        .collect();
    // The free tenant is "other"; of the two paying ones, only the first
    // fits under max(1).
    assert_eq!(
        tenants,
        [
            format!("tenancy_requests_total{{tenant={}", w.tenants[1].id()),
            format!("tenancy_requests_total{{tenant={OTHER}"),
        ]
    );
    assert_eq!(ledger.take().len(), 3);
}

/// The answer to a request through `meter` placed outside the tenant
/// layer (the wrong order: it runs before the tenant is resolved).
async fn through_misplaced(meter: MeterLayer) -> (StatusCode, String) {
    let w = world(&["free"]);
    let app = Router::new()
        .route("/menu", get(|| async { "menu" }))
        .layer(
            TenantLayer::builder(w.store.clone())
                .strategy(Header::x_tenant())
                .build(),
        )
        .layer(meter);
    let response = app
        .oneshot(
            Request::get("/menu")
                .header("x-tenant", "t0")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn without_the_tenant_layer_inside_it_answers_500_and_counts_nothing() {
    let ledger = UsageLedger::new(TenantLabels::top(10));
    let (status, body) = through_misplaced(MeterLayer::new(ledger.clone())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("tenant_layer_missing"), "{body}");
    assert!(ledger.take().is_empty());
}

#[tokio::test]
async fn a_request_dropped_before_its_answer_is_counted_as_client_closed() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro"]);
    let ledger = UsageLedger::new(TenantLabels::top(10));
    let app = app(&w, &ledger);
    {
        let mut request = pin!(get_as(&app, &w.tenants[0], "/slow"));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(request.as_mut().poll(&mut cx).is_pending());
    }
    let seen = metrics(&snapshotter);
    assert_eq!(
        seen[&format!(
            "tenancy_requests_total{{tenant={},route=/slow,status=4xx}}",
            w.tenants[0].id()
        )],
        1
    );
    let usage = usage_of(&ledger.take(), &w.tenants[0]);
    assert_eq!((usage.requests, usage.client_errors), (1, 1));
}

#[tokio::test]
async fn transactions_are_counted_with_their_rows() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro"]);
    let tenant = AnyTenant::from(w.tenants[0].clone());
    let ledger = UsageLedger::new(TenantLabels::top(10));
    ledger.record_transaction(&tenant, Duration::from_millis(3), 5);
    ledger.record_transaction(&tenant, Duration::from_millis(2), 0);
    let t = w.tenants[0].id();
    let seen = metrics(&snapshotter);
    assert_eq!(
        seen,
        BTreeMap::from([
            (format!("tenancy_db_rows_written_total{{tenant={t}}}"), 5),
            (
                format!("tenancy_db_transaction_duration_seconds{{tenant={t}}}"),
                2
            ),
            (format!("tenancy_db_transactions_total{{tenant={t}}}"), 2),
        ])
    );
    let usage = usage_of(&ledger.take(), &w.tenants[0]);
    assert_eq!(
        (
            usage.transactions,
            usage.transaction_micros,
            usage.rows_written
        ),
        (2, 5_000, 5)
    );
}

/// The requests counters seen since the last snapshot, `tenant,route,status`
/// → count.
fn requests(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    metrics(snapshotter)
        .into_iter()
        .filter(|(k, v)| k.starts_with("tenancy_requests_total") && *v > 0)
        .map(|(k, v)| {
            let labels = k
                .trim_start_matches("tenancy_requests_total{")
                .trim_end_matches('}')
                .split(',')
                .map(|l| l.split_once('=').map_or(l, |(_, v)| v))
                .collect::<Vec<_>>()
                .join(",");
            (labels, v)
        })
        .collect()
}

#[tokio::test]
async fn each_route_and_status_class_has_its_own_series() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro"]);
    let t = &w.tenants[0];
    let ledger = UsageLedger::new(TenantLabels::top(10));
    let app = app(&w, &ledger);
    for path in ["/orders/1", "/menu", "/menu", "/cached", "/early"] {
        get_as(&app, t, path).await;
    }
    let id = t.id();
    assert_eq!(
        requests(&snapshotter),
        BTreeMap::from([
            (format!("{id},/orders/{{id}},2xx"), 1),
            (format!("{id},/menu,2xx"), 2),
            (format!("{id},/cached,3xx"), 1),
            (format!("{id},/early,1xx"), 1),
        ])
    );
}

#[tokio::test]
async fn with_no_tenant_labels_every_tenant_is_other() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro", "pro"]);
    let ledger = UsageLedger::new(TenantLabels::none());
    let app = app(&w, &ledger);
    for t in &w.tenants {
        get_as(&app, t, "/menu").await;
    }
    assert_eq!(
        requests(&snapshotter),
        BTreeMap::from([(format!("{OTHER},/menu,2xx"), 2)])
    );
    assert_eq!(ledger.take().len(), 2, "still counted each under its id");
}

#[tokio::test]
async fn route_labels_stop_at_512_patterns() {
    let (snapshotter, _local) = recording();
    let w = world(&["pro"]);
    let ledger = UsageLedger::new(TenantLabels::top(10));
    let mut router = Router::new();
    for i in 0..513 {
        router = router.route(&format!("/r{i}"), get(|| async { "" }));
    }
    let app = router.layer(MeterLayer::new(ledger.clone())).layer(
        TenantLayer::builder(w.store.clone())
            .strategy(Header::x_tenant())
            .build(),
    );
    for i in 0..513 {
        get_as(&app, &w.tenants[0], &format!("/r{i}")).await;
    }
    let seen = requests(&snapshotter);
    let id = w.tenants[0].id();
    assert_eq!(seen[&format!("{id},/r0,2xx")], 1);
    assert_eq!(seen[&format!("{id},/r511,2xx")], 1);
    assert_eq!(seen[&format!("{id},unmatched,2xx")], 1, "the 513th");
    assert_eq!(seen.len(), 513);
}

#[tokio::test]
async fn its_500_is_rendered_by_the_renderer_given() {
    let plain = |r: &tenancy_tower::TenantRejection| {
        http::Response::builder()
            .status(r.status())
            .body(format!("plain: {}", r.code()))
            .unwrap()
    };
    let meter =
        MeterLayer::new(UsageLedger::new(TenantLabels::none())).render_rejections_with(plain);
    assert_eq!(
        through_misplaced(meter).await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "plain: tenant_layer_missing".to_owned()
        )
    );
}

/// A service that is never ready, or failed.
#[derive(Clone)]
struct NotReady(Option<&'static str>);

impl tower::Service<Request<Body>> for NotReady {
    type Response = http::Response<Body>;
    type Error = String;
    type Future = std::future::Ready<Result<http::Response<Body>, String>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> std::task::Poll<Result<(), String>> {
        match self.0 {
            None => std::task::Poll::Pending,
            Some(e) => std::task::Poll::Ready(Err(e.to_owned())),
        }
    }

    fn call(&mut self, _: Request<Body>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(Body::empty())))
    }
}

#[test]
fn the_layers_are_as_ready_as_the_service_they_wrap() {
    use tower::{Layer, Service};
    let mut cx = Context::from_waker(Waker::noop());
    let meter = MeterLayer::new(UsageLedger::new(TenantLabels::none()));
    let quota = tenancy_metering::QuotaLayer::new(tenancy_metering::Quotas::new(
        tenancy_metering::Quota::unlimited(),
    ));
    assert!(meter.layer(NotReady(None)).poll_ready(&mut cx).is_pending());
    assert!(quota.layer(NotReady(None)).poll_ready(&mut cx).is_pending());
    assert_eq!(
        meter.layer(NotReady(Some("down"))).poll_ready(&mut cx),
        std::task::Poll::Ready(Err("down".to_owned()))
    );
    assert_eq!(
        quota.layer(NotReady(Some("down"))).poll_ready(&mut cx),
        std::task::Poll::Ready(Err("down".to_owned()))
    );
}
