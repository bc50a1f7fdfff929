//! The POS HTTP contract, driven over real HTTP against the real server and
//! a real PostgreSQL (through the unprivileged runtime role).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::net::SocketAddr;
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_testing::TestDatabase;

struct Shared {
    addr: SocketAddr,
    db: TestDatabase,
}

/// One server for the whole test binary, on its own runtime thread, set up
/// as `pos serve` does (the administrator pool closed before serving).
fn server() -> SocketAddr {
    shared().addr
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let db = tenancy_testing::test_database();
        let url = db.admin_url().to_owned();
        let (ready, addr) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let database = pos::Database::connect(&url, None).await.unwrap();
                database.close_admin().await;
                let server = pos::Server::start(&database, SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .unwrap();
                ready.send(server.addr).unwrap();
                std::future::pending::<()>().await;
            });
        });
        Shared {
            addr: addr.recv().expect("the POS server failed to start"),
            db,
        }
    })
}

#[derive(Clone, Copy)]
enum Via<'a> {
    Host(&'a str),
    Header(&'a str),
    Nothing,
}

async fn call(
    method: Method,
    path: &str,
    via: Via<'_>,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let port = server().port();
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("http://127.0.0.1:{port}{path}"));
    request = match via {
        Via::Host(slug) => request.header("host", format!("{slug}.localhost:{port}")),
        Via::Header(slug) => request
            .header("host", format!("localhost:{port}"))
            .header("x-tenant", slug),
        Via::Nothing => request.header("host", format!("localhost:{port}")),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn token(tenant: &str, user: &str) -> String {
    let (status, body) = call(
        Method::POST,
        "/auth/demo-token",
        Via::Nothing,
        None,
        Some(json!({"tenant": tenant, "user": user})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn create(via: Via<'_>, token: &str, item: &str) -> Value {
    let (status, body) = call(
        Method::POST,
        "/orders",
        via,
        Some(token),
        Some(json!({"item": item, "quantity": 2, "total_cents": 1500})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn assert_json_error(status: StatusCode, body: &Value, want: StatusCode) {
    assert_eq!(status, want, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error body must be JSON {{\"error\": ...}}: {body}"
    );
}

#[tokio::test]
async fn healthz_needs_no_tenant() {
    let (status, body) = call(Method::GET, "/healthz", Via::Nothing, None, None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::String("ok".into())));
}

#[tokio::test]
async fn demo_token_contract() {
    assert!(!token("acme", "alice").await.is_empty());
    let (status, body) = call(
        Method::POST,
        "/auth/demo-token",
        Via::Nothing,
        None,
        Some(json!({"tenant": "ghost", "user": "x"})),
    )
    .await;
    assert_json_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = call(
        Method::POST,
        "/auth/demo-token",
        Via::Nothing,
        None,
        Some(json!({"tenant": "acme"})),
    )
    .await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    assert!(body["error"].is_string());
    let (status, body) = call(
        Method::POST,
        "/auth/demo-token",
        Via::Nothing,
        None,
        Some(json!({"tenant": "../acme", "user": "x"})),
    )
    .await;
    assert_json_error(status, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn while_serving_every_connection_is_the_unprivileged_runtime_role() {
    // Work that opens connections: a token (directory lookup) and a list.
    let alice = token("acme", "alice").await;
    let (status, _) = call(
        Method::GET,
        "/orders",
        Via::Host("acme"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Other tests of this binary run the harness's psql as the administrator
    // at the same time; those connections carry the harness's name.
    let roles = shared()
        .db
        .admin_sql(&format!(
            "SELECT string_agg(DISTINCT usename::text, ',') FROM pg_stat_activity
             WHERE datname = current_database() AND backend_type = 'client backend'
               AND application_name <> '{}'",
            tenancy_testing::HARNESS_APPLICATION_NAME
        ))
        .unwrap();
    assert_eq!(
        roles.trim(),
        "pos_app",
        "the serving process holds other roles' connections"
    );
}

#[tokio::test]
async fn orders_crud_for_own_orders() {
    let alice = token("acme", "alice").await;
    let order = create(Via::Host("acme"), &alice, "Burger").await;
    let id = order["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(order["quantity"], 2);

    let path = format!("/orders/{id}");
    let (status, got) = call(Method::GET, &path, Via::Host("acme"), Some(&alice), None).await;
    assert_eq!((status, &got["id"]), (StatusCode::OK, &order["id"]));
    let (status, changed) = call(
        Method::PATCH,
        &path,
        Via::Header("acme"),
        Some(&alice),
        Some(json!({"quantity": 3})),
    )
    .await;
    assert_eq!((status, &changed["quantity"]), (StatusCode::OK, &json!(3)));
    let (status, _) = call(Method::DELETE, &path, Via::Host("acme"), Some(&alice), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(Method::GET, &path, Via::Host("acme"), Some(&alice), None).await;
    assert_json_error(status, &body, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_tenants_order_is_404_for_every_method() {
    let alice = token("acme", "alice").await;
    let bob = token("globex", "bob").await;
    let theirs = create(Via::Header("globex"), &bob, "Taco").await;
    let path = format!("/orders/{}", theirs["id"].as_str().unwrap());
    let mut probe = tenancy_testing::probe::HttpProbe::new();
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"quantity": 9}))),
        (Method::DELETE, None),
    ] {
        let (status, body) =
            call(method.clone(), &path, Via::Host("acme"), Some(&alice), body).await;
        probe.record(format!("{method} {path}"), status.as_u16());
        assert_json_error(status, &body, StatusCode::NOT_FOUND);
    }
    probe.assert_denied();
    let (status, still) = call(Method::GET, &path, Via::Host("globex"), Some(&bob), None).await;
    assert_eq!(
        (status, &still["quantity"]),
        (StatusCode::OK, &json!(2)),
        "globex's order must be untouched"
    );
    // The database agrees: the row is there, globex's, unchanged.
    let row = shared()
        .db
        .admin_sql(&format!(
            "SELECT tenant_id, quantity FROM orders WHERE id = '{}'",
            theirs["id"].as_str().unwrap()
        ))
        .unwrap();
    assert_eq!(row.trim(), format!("{}|2", tenant_id("globex")));

    let unknown = format!("/orders/{}", uuid::Uuid::new_v4());
    let (status, body) = call(Method::GET, &unknown, Via::Host("acme"), Some(&alice), None).await;
    assert_json_error(status, &body, StatusCode::NOT_FOUND);
    for bad in ["/orders/not-a-uuid", "/orders/1", "/orders/%27%20OR%201=1"] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"quantity": 1}));
            let (status, body) = call(method, bad, Via::Host("acme"), Some(&alice), body).await;
            assert_json_error(status, &body, StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test]
async fn invalid_order_bodies_are_400_or_422_with_a_reason() {
    let alice = token("acme", "alice").await;
    for body in [
        json!({"item": "Burger", "quantity": 0, "total_cents": 1}),
        json!({"item": "Burger", "quantity": 1001, "total_cents": 1}),
        json!({"item": "", "quantity": 1, "total_cents": 1}),
        json!({"item": "Burger", "quantity": 1, "total_cents": -5}),
        json!({"item": "Burger"}),
        json!({"item": 5, "quantity": "two", "total_cents": 1}),
        json!({"item": "Burger", "quantity": 1, "total_cents": 1, "tenant_id": uuid::Uuid::new_v4()}),
    ] {
        let (status, reply) = call(
            Method::POST,
            "/orders",
            Via::Host("acme"),
            Some(&alice),
            Some(body.clone()),
        )
        .await;
        if body.get("tenant_id").is_some() {
            // Unknown fields are ignored: the tenant never comes from the body.
            assert_eq!(status, StatusCode::CREATED);
            assert_ne!(reply["tenant_id"], body["tenant_id"]);
            continue;
        }
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {status}"
        );
        assert!(reply["error"].is_string(), "{reply}");
    }
    let port = server().port();
    let raw = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/orders"))
        .header("host", format!("acme.localhost:{port}"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_middleware_answers_every_status_of_the_contract() {
    let alice = token("acme", "alice").await;
    let bob = token("globex", "bob").await;
    let cases: Vec<(Via<'_>, Option<String>, StatusCode)> = vec![
        (Via::Nothing, Some(alice.clone()), StatusCode::BAD_REQUEST),
        (
            Via::Host("ghost"),
            Some(alice.clone()),
            StatusCode::NOT_FOUND,
        ),
        (
            Via::Header("ghost"),
            Some(alice.clone()),
            StatusCode::NOT_FOUND,
        ),
        (Via::Host("acme"), None, StatusCode::UNAUTHORIZED),
        (
            Via::Host("acme"),
            Some("garbage".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Via::Host("acme"),
            Some(format!("{alice}x")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Via::Host("globex"),
            Some(alice.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            Via::Header("acme"),
            Some(bob.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            Via::Host("a.b"),
            Some(alice.clone()),
            StatusCode::BAD_REQUEST,
        ),
        (
            Via::Header("acme'--"),
            Some(alice.clone()),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (via, token, want) in cases {
        let (status, body) = call(Method::GET, "/orders", via, token.as_deref(), None).await;
        assert_json_error(status, &body, want);
    }
}

#[tokio::test]
async fn a_noisy_tenant_gets_429_with_retry_after() {
    let carol = token("tiny", "carol").await;
    let port = server().port();
    let client = reqwest::Client::new();
    let mut limited = None;
    for _ in 0..10 {
        let response = client
            .get(format!("http://127.0.0.1:{port}/orders"))
            .header("host", format!("tiny.localhost:{port}"))
            .bearer_auth(&carol)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            assert!(body["error"].is_string());
            break;
        }
    }
    let retry: u64 = limited
        .expect("tiny was never rate limited")
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_traffic_from_both_tenants_never_crosses() {
    let alice = token("acme", "alice").await;
    let bob = token("globex", "bob").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (slug, token) = if i % 2 == 0 {
            ("acme", alice.clone())
        } else {
            ("globex", bob.clone())
        };
        tasks.push(tokio::spawn(async move {
            let via = if i % 4 < 2 {
                Via::Host(slug)
            } else {
                Via::Header(slug)
            };
            let created = create(via, &token, &format!("{slug}-{i}")).await;
            let (status, list) = call(Method::GET, "/orders", via, Some(&token), None).await;
            assert_eq!(status, StatusCode::OK);
            (slug, created, list)
        }));
    }
    let mut tenant_of_slug = std::collections::HashMap::new();
    for task in tasks {
        let (slug, created, list) = task.await.unwrap();
        let tenant_id = created["tenant_id"].clone();
        if let Some(previous) = tenant_of_slug.insert(slug, tenant_id.clone()) {
            assert_eq!(previous, tenant_id, "one slug, one tenant id");
        }
        let list = list.as_array().unwrap();
        assert!(
            list.iter().any(|o| o["id"] == created["id"]),
            "own order missing from own list"
        );
        for order in list {
            assert_eq!(
                order["tenant_id"], tenant_id,
                "{slug} saw another tenant's order: {order}"
            );
            assert!(
                !order["item"]
                    .as_str()
                    .unwrap()
                    .starts_with(if slug == "acme" { "globex-" } else { "acme-" })
            );
        }
    }
    assert_ne!(tenant_of_slug["acme"], tenant_of_slug["globex"]);
}

#[tokio::test]
async fn the_server_refuses_a_runtime_role_that_bypasses_rls() {
    // A cluster of its own: roles are cluster-wide.
    let cluster = tokio::task::spawn_blocking(tenancy_testing::PgCluster::start)
        .await
        .unwrap()
        .unwrap();
    let url = cluster.superuser_url("postgres");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    for (attribute, why) in [
        ("SUPERUSER", "is a superuser"),
        ("NOSUPERUSER BYPASSRLS", "has BYPASSRLS"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP ROLE IF EXISTS pos_app; CREATE ROLE pos_app LOGIN {attribute}"
        )))
        .execute(&admin)
        .await
        .unwrap();
        let err = pos::Database::connect(&url, None).await.unwrap_err();
        assert!(
            matches!(&err, pos::SetupError::UnsafeRuntimeRole { why: w, .. } if *w == why),
            "{err}"
        );
        assert!(err.to_string().contains("refusing to start"), "{err}");
        sqlx::raw_sql("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM pos_app; REVOKE ALL ON SCHEMA public FROM pos_app; REVOKE ALL ON DATABASE postgres FROM pos_app")
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
}

/// Tokens of acme and globex, fetched once.
fn tokens() -> &'static (String, String) {
    static TOKENS: OnceLock<(String, String)> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { (token("acme", "alice").await, token("globex", "bob").await) })
    })
}

/// The id of the seed tenant `slug`, from the database.
fn tenant_id(slug: &str) -> String {
    shared()
        .db
        .admin_sql(&format!(
            "SELECT id FROM tenancy_tenants WHERE slug = '{slug}'"
        ))
        .unwrap()
        .trim()
        .to_owned()
}

/// The ids of `tenant_id`'s orders, from an administrator query with an
/// explicit `WHERE`.
fn order_ids_of(tenant_id: &str) -> std::collections::HashSet<String> {
    shared()
        .db
        .admin_sql(&format!(
            "SELECT id FROM orders WHERE tenant_id = '{tenant_id}'"
        ))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

mod real_tenants {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

        /// Requests that name a real tenant (by subdomain or header, any
        /// case, with or without a port), with either tenant's token: with
        /// the tenant's own token, 200 and only that tenant's orders, as an
        /// administrator's query with an explicit WHERE finds them; with the
        /// other tenant's token, 403.
        #[test]
        fn requests_for_real_tenants_see_only_their_own_orders(
            named in prop_oneof![Just("acme"), Just("globex")],
            by_host in any::<bool>(),
            upper in any::<bool>(),
            with_port in any::<bool>(),
            token_of in prop_oneof![Just("acme"), Just("globex")],
        ) {
            let (alice, bob) = tokens();
            let token = if token_of == "acme" { alice } else { bob };
            let port = server().port();
            let name = if upper { named.to_ascii_uppercase() } else { named.to_owned() };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (created, status, body) = runtime.block_on(async {
                // With its own token, the tenant has at least this order.
                let created = if token_of == named {
                    Some(create(Via::Header(named), token, "proptest").await)
                } else {
                    None
                };
                let client = reqwest::Client::new();
                let mut request = client
                    .get(format!("http://127.0.0.1:{port}/orders"))
                    .bearer_auth(token);
                let suffix = if with_port { format!(":{port}") } else { String::new() };
                request = if by_host {
                    request.header("host", format!("{name}.localhost{suffix}"))
                } else {
                    request.header("host", format!("localhost{suffix}")).header("x-tenant", name.clone())
                };
                let response = request.send().await.unwrap();
                let status = response.status();
                (created, status, response.json::<Value>().await.unwrap_or(Value::Null))
            });
            if token_of == named {
                prop_assert_eq!(status, StatusCode::OK, "{}", body);
                let id = tenant_id(named);
                let in_database = order_ids_of(&id);
                let orders = body.as_array().unwrap();
                let created = created.unwrap();
                prop_assert!(orders.iter().any(|o| o["id"] == created["id"]), "own new order missing");
                for order in orders {
                    prop_assert_eq!(order["tenant_id"].as_str(), Some(id.as_str()));
                    prop_assert!(in_database.contains(order["id"].as_str().unwrap()), "{}", order);
                }
            } else {
                prop_assert_eq!(status, StatusCode::FORBIDDEN, "{}", body);
            }
        }
    }
}

mod hostile {
    use proptest::prelude::*;
    use reqwest::header::{HeaderName, HeaderValue};

    use super::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "(acme|globex|ghost|ACME|a\\.b|\\.\\.|xn--x|)(\\.localhost)?(:[0-9]{0,6})?\\.?"
                .prop_map(String::into_bytes),
            "[a-zA-Z0-9.:_\\-\\[\\]@%/' ]{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("/orders".to_owned()),
            "/orders/[a-zA-Z0-9%'\\-]{0,40}",
            "/[a-zA-Z0-9%./_\\-]{0,30}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

        /// Hostile Host, X-Tenant, Authorization and paths: never a 5xx, and
        /// a success only for the tenant the input names and the token owns.
        #[test]
        fn hostile_requests_never_5xx_and_never_reach_another_tenant(
            host in bytes(),
            header in proptest::option::of(bytes()),
            auth in 0..4_usize,
            path in path(),
            method in prop_oneof![Just(reqwest::Method::GET), Just(reqwest::Method::DELETE), Just(reqwest::Method::PATCH)],
        ) {
            let (alice, bob) = tokens();
            let port = server().port();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1:{port}{path}")) else { return Ok(()) };
            let mut request = reqwest::Request::new(method, url);
            if let Ok(value) = HeaderValue::from_bytes(&host) {
                request.headers_mut().insert(reqwest::header::HOST, value);
            }
            if let Some(Ok(value)) = header.as_deref().map(HeaderValue::from_bytes) {
                request.headers_mut().insert(HeaderName::from_static("x-tenant"), value);
            }
            let bearer = match auth {
                0 => None,
                1 => Some("Bearer not.a.token".to_owned()),
                2 => Some(format!("Bearer {alice}")),
                _ => Some(format!("Bearer {bob}")),
            };
            if let Some(bearer) = bearer {
                request.headers_mut().insert(reqwest::header::AUTHORIZATION, HeaderValue::from_str(&bearer).unwrap());
            }
            if request.method() == reqwest::Method::PATCH {
                *request.body_mut() = Some(r#"{"quantity": 2}"#.into());
                request.headers_mut().insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            let (status, body) = runtime.block_on(async {
                let response = reqwest::Client::new().execute(request).await.unwrap();
                (response.status(), response.text().await.unwrap_or_default())
            });
            prop_assert!(!status.is_server_error(), "{status}: {body}");
            if status.is_success() && path.starts_with("/orders") {
                let named = String::from_utf8_lossy(&host).to_ascii_lowercase()
                    + &String::from_utf8_lossy(header.as_deref().unwrap_or_default()).to_ascii_lowercase();
                let owner = if auth == 2 { "acme" } else { "globex" };
                prop_assert!(auth >= 2 && named.contains(owner), "{status} for {named:?} with token {auth}: {body}");
            }
        }
    }
}
