//! The admin portal over HTTP against real PostgreSQL and a real DNS
//! server: authentication, CSRF, the tenant lifecycle through pages and
//! the API, domains, export, and bad input answered with a 4xx and its
//! reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tenancy_admin::{AdminAuth, AdminPortal};
use tenancy_core::{Tenant, TenantId, TenantStoreExt};
use tenancy_domains::{DomainResolver, DomainStore, DomainVerifier};
use tenancy_metering::postgres::UsageStore;
use tenancy_metering::{TenantLabels, UsageLedger};
use tenancy_sqlx::lifecycle::TenantLifecycle;
use tenancy_sqlx::trail::ActivityTrail;
use tenancy_sqlx::{PgTenantStore, TenantPool};
use tenancy_testing::dns::DnsServer;
use tenancy_testing::{APP_ROLE, PROVISIONER_ROLE, TestDatabase};
use tower::ServiceExt;

const TOKEN: &str = "a-long-admin-token-for-the-tests-only";

struct World {
    db: TestDatabase,
    app: Router,
    store: PgTenantStore,
    pool: TenantPool,
    dns: DnsServer,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())
        .unwrap();
    let owner = PgPool::connect(db.owner_url()).await.unwrap();
    let store = PgTenantStore::new(owner.clone());
    db.owner_sql(&store.create_table_sql()).unwrap();
    db.owner_sql(&UsageStore::schema_sql(PROVISIONER_ROLE, APP_ROLE).unwrap())
        .unwrap();
    let domains = DomainStore::new(owner);
    db.owner_sql(&domains.create_table_sql()).unwrap();
    let pool = TenantPool::new(PgPool::connect(db.app_url()).await.unwrap());
    let dns = DnsServer::start().await.unwrap();
    let verifier = DomainVerifier::new(DomainResolver::nameserver(dns.addr()).unwrap());
    // The app role may delete trail rows here: the lifecycle deletes a
    // tenant's rows, its trail included, through the app's pool.
    let trail = ActivityTrail::new();
    db.owner_sql(&trail.create_table_sql(None).unwrap())
        .unwrap();
    let portal = AdminPortal::new(
        store.clone(),
        TenantLifecycle::new(store.clone(), pool.clone()),
        AdminAuth::token(TOKEN, "ops@example").unwrap(),
    )
    .with_domains(domains, verifier)
    .with_trail(trail, pool.clone())
    .with_usage(UsageStore::new(
        PgPool::connect(db.owner_url()).await.unwrap(),
    ));
    World {
        db,
        app: Router::new().nest("/admin", portal.router()),
        store,
        pool,
        dns,
    }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(w: &World, request: Request<Body>) -> Answer {
    let response = w.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn api(method: &str, uri: &str, json: Option<serde_json::Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    match json {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// A browser session: the cookies the login set.
async fn login(w: &World) -> String {
    let answer = send(
        w,
        Request::post("/admin/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={TOKEN}")))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let cookies: Vec<String> = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 2);
    for cookie in &cookies {
        assert_eq!(
            attributes(cookie),
            ["Path=/admin", "HttpOnly", "SameSite=Strict", "Secure"],
            "{cookie}"
        );
    }
    cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A `Set-Cookie` value's attributes, in order, without the value.
fn attributes(set_cookie: &str) -> Vec<&str> {
    set_cookie.split("; ").skip(1).collect()
}

fn csrf_of(cookies: &str) -> String {
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("tenancy_admin_csrf="))
        .unwrap()
        .to_owned()
}

fn form(uri: &str, cookies: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn page(uri: &str, cookies: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .unwrap()
}

async fn tenant(w: &World, slug: &str, name: &str) -> Tenant {
    let t = Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
        .name(name)
        .build();
    w.store.insert(&t, None).await.unwrap();
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_without_credentials() {
    let w = world().await;
    let page_answer = send(
        &w,
        Request::get("/admin/tenants").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(page_answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        page_answer.body.contains("name=\"token\""),
        "the login form"
    );
    let api_answer = send(
        &w,
        Request::get("/admin/api/tenants")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(api_answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api_answer.json()["code"], "unauthorized");
    let wrong = Request::get("/admin/api/tenants")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}x"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w, wrong).await.status, StatusCode::UNAUTHORIZED);
    let bad_login = form("/admin/login", "", "token=guess");
    assert_eq!(send(&w, bad_login).await.status, StatusCode::UNAUTHORIZED);
    assert!(AdminAuth::token("short", "ops").is_err());
    let login_form = send(
        &w,
        Request::get("/admin/login").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(login_form.status, StatusCode::OK);
    assert!(
        login_form.body.contains("action=\"/admin/login\""),
        "{}",
        login_form.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_need_their_pages_csrf_value() {
    let w = world().await;
    let cookies = login(&w).await;
    let listed = send(&w, page("/admin/tenants", &cookies)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let csrf = csrf_of(&cookies);
    assert!(
        listed.body.contains(&format!("value=\"{csrf}\"")),
        "the forms carry it"
    );

    for forged in ["slug=cafe", &format!("slug=cafe&csrf={}", "0".repeat(64))] {
        let answer = send(&w, form("/admin/tenants", &cookies, forged)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{forged}");
    }
    assert!(
        w.store
            .by_slug(&"cafe".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let answer = send(
        &w,
        form(
            "/admin/tenants",
            &cookies,
            &format!("slug=cafe&name=Caf%C3%A9&plan=pro&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.headers[header::LOCATION], "/admin/tenants/cafe");
    let created = w
        .store
        .by_slug(&"cafe".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (created.name(), created.settings().plan.as_deref()),
        ("Café", Some("pro"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_runs_the_lifecycle_with_a_dry_run_before_deleting() {
    let w = world().await;
    let created = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({"slug": "bistro", "plan": "pro"})),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.json()["plan"], "pro");
    let again = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({"slug": "bistro"})),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let bad = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({"slug": "Bad Slug"})),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("invalid tenant slug"),
        "{}",
        bad.body
    );
    tenant(&w, "cafe-100", "100% coffee").await;

    let found = send(&w, api("GET", "/admin/api/tenants?q=BIST", None))
        .await
        .json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["slug"], "bistro");
    // LIKE wildcards are literal: "%" finds the tenant whose name has one.
    let found = send(&w, api("GET", "/admin/api/tenants?q=%25", None))
        .await
        .json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");

    let suspended = send(&w, api("POST", "/admin/api/tenants/bistro/suspend", None)).await;
    assert_eq!(suspended.json()["status"], "suspended");
    let resumed = send(&w, api("POST", "/admin/api/tenants/bistro/resume", None)).await;
    assert_eq!(resumed.json()["status"], "active");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_takes_a_dry_run_then_the_slug_typed_as_confirmation() {
    let w = world().await;
    let created = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({"slug": "bistro"})),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let bistro = w
        .store
        .by_slug(&"bistro".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut tx = w.pool.begin(&bistro).await.unwrap();
    sqlx::query("INSERT INTO orders (item) VALUES ('Soup'), ('Bread')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let dry = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/bistro/delete",
            Some(serde_json::json!({})),
        ),
    )
    .await
    .json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["tables"][0]["rows"], 2);
    let wrong = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/bistro/delete",
            Some(serde_json::json!({"confirm": "cafe"})),
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(w.db.admin_sql("SELECT count(*) FROM orders").unwrap(), "2");
    let done = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/bistro/delete",
            Some(serde_json::json!({"confirm": "bistro"})),
        ),
    )
    .await
    .json();
    assert_eq!(done["deleted"], true);
    assert_eq!(w.db.admin_sql("SELECT count(*) FROM orders").unwrap(), "0");
    let gone = send(&w, api("GET", "/admin/api/tenants/bistro", None)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    for bad_slug in [
        "/admin/api/tenants/..%2Fetc",
        "/admin/api/tenants/%3Cscript%3E",
    ] {
        assert_eq!(
            send(&w, api("GET", bad_slug, None)).await.status,
            StatusCode::BAD_REQUEST,
            "{bad_slug}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_escape_tenant_data_and_show_only_their_tenant() {
    let w = world().await;
    let evil = tenant(&w, "evil", "<script>alert(1)</script>").await;
    let other = tenant(&w, "acme", "Acme Restaurant").await;
    let cookies = login(&w).await;
    let list = send(&w, page("/admin/tenants", &cookies)).await;
    assert!(!list.body.contains("<script>alert"), "{}", list.body);
    assert!(list.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let detail = send(&w, page("/admin/tenants/evil", &cookies)).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains(&evil.id_ref().to_string()));
    assert!(!detail.body.contains(&other.id_ref().to_string()) && !detail.body.contains("Acme"));
    let missing = send(&w, page("/admin/tenants/nobody", &cookies)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("no tenant nobody"));
}

#[tokio::test(flavor = "multi_thread")]
async fn domains_are_added_and_verified_from_the_portal() {
    let w = world().await;
    tenant(&w, "acme", "Acme").await;
    tenant(&w, "globex", "Globex").await;
    let added = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/acme/domains",
            Some(serde_json::json!({"domain": "Orders.Acme-Corp.com"})),
        ),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let added = added.json();
    assert_eq!(
        (added["domain"].as_str(), added["status"].as_str()),
        (Some("orders.acme-corp.com"), Some("pending"))
    );
    let verify = |slug: &str| {
        api(
            "POST",
            &format!("/admin/api/tenants/{slug}/domains/verify"),
            Some(serde_json::json!({"domain": "orders.acme-corp.com"})),
        )
    };
    assert_eq!(send(&w, verify("acme")).await.json()["status"], "pending");
    w.dns.set_txt(
        "_tenancy-challenge.orders.acme-corp.com",
        &[added["txt_value"].as_str().unwrap()],
    );
    assert_eq!(send(&w, verify("acme")).await.json()["status"], "verified");
    // Another tenant can neither verify it nor take it.
    assert_eq!(
        send(&w, verify("globex")).await.status,
        StatusCode::NOT_FOUND
    );
    let taken = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/globex/domains",
            Some(serde_json::json!({"domain": "orders.acme-corp.com"})),
        ),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let bad = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/acme/domains",
            Some(serde_json::json!({"domain": "localhost"})),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let detail = send(&w, api("GET", "/admin/api/tenants/acme", None))
        .await
        .json();
    assert_eq!(detail["domains"][0]["status"], "verified");
    assert_eq!(
        send(&w, api("GET", "/admin/api/tenants/globex", None))
            .await
            .json()["domains"],
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_holds_its_tenants_rows_only() {
    let w = world().await;
    let acme = tenant(&w, "acme", "Acme").await;
    let globex = tenant(&w, "globex", "Globex").await;
    for (t, item) in [(&acme, "Burger"), (&globex, "Taco")] {
        let mut tx = w.pool.begin(t).await.unwrap();
        sqlx::query("INSERT INTO orders (item) VALUES ($1)")
            .bind(item)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let export = send(&w, api("GET", "/admin/tenants/acme/export", None)).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert!(
        export.body.contains("Burger") && !export.body.contains("Taco"),
        "{}",
        export.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_page_shows_its_own_activity_with_impersonations() {
    let w = world().await;
    let acme = tenant(&w, "acme", "Acme").await;
    let globex = tenant(&w, "globex", "Globex").await;
    let trail = ActivityTrail::new();
    for (t, actor, action) in [
        (acme.clone(), "alice", "order.create"),
        (acme.impersonated("jane@support"), "alice", "order.refund"),
        (globex.clone(), "bob", "order.delete"),
    ] {
        let mut tx = w.pool.begin(&t).await.unwrap();
        trail
            .record(&mut tx, actor, action, "orders/1")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let detail = send(&w, api("GET", "/admin/api/tenants/acme", None))
        .await
        .json();
    let actions: Vec<(&str, Option<&str>)> = detail["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["impersonated_by"].as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("order.refund", Some("jane@support")),
            ("order.create", None)
        ]
    );
    // Suspended, its trail still shows; the page says who impersonated.
    send(&w, api("POST", "/admin/api/tenants/acme/suspend", None)).await;
    let cookies = login(&w).await;
    let page_answer = send(&w, page("/admin/tenants/acme", &cookies)).await;
    assert_eq!(page_answer.status, StatusCode::OK, "{}", page_answer.body);
    assert!(
        page_answer
            .body
            .contains("alice (impersonated by jane@support)")
    );
    assert!(
        !page_answer.body.contains("order.delete"),
        "globex's activity"
    );
    // The staff's own actions are in the tenant's trail too, export included.
    send(&w, api("GET", "/admin/tenants/acme/export", None)).await;
    let trail = send(&w, api("GET", "/admin/api/tenants/acme", None))
        .await
        .json()["trail"]
        .clone();
    let staff: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "staff:ops@example")
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(staff, [("admin.export", "acme"), ("admin.suspend", "acme")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_the_database_refuses_is_a_409_with_the_reason() {
    let w = world().await;
    tenant(&w, "acme", "Acme").await;
    w.db.owner_sql("REVOKE DELETE ON orders FROM tenancy_app")
        .unwrap();
    let refused = send(
        &w,
        api(
            "POST",
            "/admin/api/tenants/acme/delete",
            Some(serde_json::json!({"confirm": "acme"})),
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("permission denied"),
        "{}",
        refused.body
    );
    // Nothing went: the tenant is still there.
    let still = send(&w, api("GET", "/admin/api/tenants/acme", None)).await;
    assert_eq!(still.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_and_the_tenant_show_domains_and_usage_of_the_last_week() {
    let w = world().await;
    let acme = tenant(&w, "acme", "Acme").await;
    tenant(&w, "globex", "Globex").await;
    // acme used the database: 2 transactions that wrote 5 rows.
    let ledger = UsageLedger::new(TenantLabels::none());
    let any = tenancy_core::AnyTenant::from(acme.clone());
    ledger.record_transaction(&any, std::time::Duration::from_millis(3), 2);
    ledger.record_transaction(&any, std::time::Duration::from_millis(3), 3);
    UsageStore::new(PgPool::connect(w.db.provisioner_url()).await.unwrap())
        .flush(&ledger)
        .await
        .unwrap();
    // Two domains, one of them verified.
    for domain in ["orders.acme-corp.com", "shop.acme-corp.com"] {
        let added = send(
            &w,
            api(
                "POST",
                "/admin/api/tenants/acme/domains",
                Some(serde_json::json!({ "domain": domain })),
            ),
        )
        .await
        .json();
        if domain.starts_with("orders") {
            w.dns.set_txt(
                &format!("_tenancy-challenge.{domain}"),
                &[added["txt_value"].as_str().unwrap()],
            );
            send(
                &w,
                api(
                    "POST",
                    "/admin/api/tenants/acme/domains/verify",
                    Some(serde_json::json!({ "domain": domain })),
                ),
            )
            .await;
        }
    }

    // A day rolled up three days ago counts; one of ten days ago does not.
    w.db.owner_sql(&format!(
        "INSERT INTO tenancy_usage (period_start, granularity, tenant, metric, value) VALUES \
         (date_trunc('day', now(), 'UTC') - interval '3 days', 'day', '{id}', 'requests', 7), \
         (date_trunc('day', now(), 'UTC') - interval '10 days', 'day', '{id}', 'requests', 100)",
        id = acme.id_ref()
    ))
    .unwrap();
    let listed = send(&w, api("GET", "/admin/api/tenants", None))
        .await
        .json();
    let row = |slug: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["slug"] == slug)
            .unwrap()
            .clone()
    };
    assert_eq!(row("acme")["usage_7_days"]["rows_written"], 5);
    assert_eq!(row("acme")["usage_7_days"]["requests"], 7);
    assert_eq!(row("acme")["usage_7_days"]["transactions"], 2);
    assert_eq!(
        row("acme")["domains"],
        serde_json::json!({"verified": 1, "total": 2})
    );
    assert_eq!(row("globex")["usage_7_days"], serde_json::json!({}));
    assert_eq!(row("globex")["domains"]["total"], 0);

    let cookies = login(&w).await;
    let list = send(&w, page("/admin/tenants", &cookies)).await;
    assert!(list.body.contains("<td>1 of 2</td>"), "{}", list.body);
    for head in [
        "<th>domains verified</th>",
        "<th>requests, 7 days</th>",
        "<th>rows written, 7 days</th>",
    ] {
        assert!(list.body.contains(head), "{head}");
    }
    let detail = send(&w, page("/admin/tenants/acme", &cookies)).await;
    assert!(
        detail.body.contains("<td>rows_written</td><td>5</td>"),
        "{}",
        detail.body
    );
    let other = send(&w, page("/admin/tenants/globex", &cookies)).await;
    assert!(
        !other.body.contains("rows_written"),
        "acme's usage on globex's page"
    );
}

/// A portal over `w`'s directory with `auth`, mounted at `base`, calling
/// `changed` after each change.
fn portal_at(w: &World, auth: AdminAuth, base: &str, changed: Arc<AtomicUsize>) -> Router {
    let portal = AdminPortal::new(
        w.store.clone(),
        TenantLifecycle::new(w.store.clone(), w.pool.clone()),
        auth,
    )
    .mounted_at(base)
    .on_change(move |_| {
        changed.fetch_add(1, Ordering::SeqCst);
    });
    match base.trim_matches('/') {
        "" => portal.router(),
        nested => Router::new().nest(&format!("/{nested}"), portal.router()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mounted_anywhere_with_your_own_authentication_and_a_change_hook() {
    let w = world().await;
    tenant(&w, "acme", "Acme").await;
    // Your authentication: an SSO header set by a trusted proxy.
    let sso = || {
        AdminAuth::callback(|parts| {
            parts
                .headers
                .get("x-staff")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    };
    let changed = Arc::new(AtomicUsize::new(0));
    for (base, home) in [("/staff/", "/staff/tenants"), ("/", "/tenants")] {
        let app = portal_at(&w, sso(), base, changed.clone());
        let root = if home == "/tenants" { "/" } else { "/staff" };
        let response = app
            .clone()
            .oneshot(
                Request::get(root)
                    .header("x-staff", "jane")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.headers()[header::LOCATION], home, "{base}");
        for (who, status) in [("jane", StatusCode::OK), ("   ", StatusCode::UNAUTHORIZED)] {
            let uri = format!("{}/api/tenants", root.trim_end_matches('/'));
            let response = app
                .clone()
                .oneshot(
                    Request::get(&uri)
                        .header("x-staff", who)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{base} {who:?}");
        }
    }
    // The hook runs after each change.
    let app = portal_at(
        &w,
        AdminAuth::token(TOKEN, "ops").unwrap(),
        "/admin",
        changed.clone(),
    );
    let before = changed.load(Ordering::SeqCst);
    let response = app
        .oneshot(api("POST", "/admin/api/tenants/acme/suspend", None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(changed.load(Ordering::SeqCst), before + 1);
}

#[test]
fn an_admin_token_is_24_characters_at_least() {
    assert!(AdminAuth::token(&"x".repeat(24), "ops").is_ok());
    assert!(AdminAuth::token(&"x".repeat(23), "ops").is_err());
    assert!(AdminAuth::token(&"x".repeat(30), "  ").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_cannot_answer_is_a_503_not_a_conflict() {
    let w = world().await;
    w.db.owner_sql("ALTER TABLE tenancy_tenants RENAME TO tenancy_tenants_gone")
        .unwrap();
    let answer = send(&w, api("GET", "/admin/api/tenants", None)).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["code"], "unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_is_200_characters_at_most() {
    let w = world().await;
    let at_most = send(
        &w,
        api(
            "GET",
            &format!("/admin/api/tenants?q={}", "a".repeat(200)),
            None,
        ),
    )
    .await;
    assert_eq!(at_most.status, StatusCode::OK);
    let longer = send(
        &w,
        api(
            "GET",
            &format!("/admin/api/tenants?q={}", "a".repeat(201)),
            None,
        ),
    )
    .await;
    assert_eq!(longer.status, StatusCode::BAD_REQUEST);
    assert!(
        longer.body.contains("at most 200 characters"),
        "{}",
        longer.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_forms_run_the_same_operations() {
    let w = world().await;
    let acme = tenant(&w, "acme", "Acme").await;
    let cookies = login(&w).await;
    let csrf = csrf_of(&cookies);
    let post = |path: &str, body: &str| {
        form(
            &format!("/admin/tenants/acme{path}"),
            &cookies,
            &format!("{body}&csrf={csrf}"),
        )
    };

    for (path, status, button) in [
        ("/suspend", "suspended", "/resume\""),
        ("/resume", "active", "/suspend\""),
    ] {
        let answer = send(&w, post(path, "x=1")).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{path}: {}",
            answer.body
        );
        let now = w.store.by_slug(acme.slug()).await.unwrap().unwrap();
        assert_eq!(now.status().as_str(), status);
        let detail = send(&w, page("/admin/tenants/acme", &cookies)).await;
        assert!(
            detail.body.contains(button),
            "{path}: the page offers {button}"
        );
    }
    let added = send(&w, post("/domains", "domain=orders.acme-corp.com")).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let verified = send(&w, post("/domains/verify", "domain=orders.acme-corp.com")).await;
    assert_eq!(verified.status, StatusCode::SEE_OTHER, "{}", verified.body);
    let detail = send(&w, page("/admin/tenants/acme", &cookies)).await;
    assert!(detail.body.contains("orders.acme-corp.com") && detail.body.contains("status-pending"));

    let mut tx = w.pool.begin(&acme).await.unwrap();
    sqlx::query("INSERT INTO orders (item) VALUES ('Soup')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let dry = send(&w, post("/delete", "x=1")).await;
    assert_eq!(dry.status, StatusCode::OK);
    assert!(
        dry.body.contains("Nothing was deleted") && dry.body.contains("public.orders</td><td>1"),
        "{}",
        dry.body
    );
    let deleted = send(&w, post("/delete", "confirm=acme")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body.contains("are deleted"), "{}", deleted.body);
    assert!(w.store.by_slug(acme.slug()).await.unwrap().is_none());
    // A form without the page's CSRF value changes nothing.
    let forged = send(&w, form("/admin/tenants/acme/suspend", &cookies, "x=1")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_cookie_holds_a_session_value_not_the_token() {
    let w = world().await;
    let cookies = login(&w).await;
    assert!(
        !cookies.contains(TOKEN),
        "a leaked cookie must not give the admin token away: {cookies}"
    );
    assert_eq!(
        send(&w, page("/admin/tenants", &cookies)).await.status,
        StatusCode::OK,
        "the session cookie signs in"
    );
    // The same session value on every login: another process with the same
    // token accepts it too.
    assert_eq!(
        login(&w).await.split("; ").next(),
        cookies.split("; ").next()
    );
    // The token itself, set as the cookie, is not a session.
    let token_as_cookie = format!("tenancy_admin={TOKEN}");
    assert_eq!(
        send(&w, page("/admin/tenants", &token_as_cookie))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The session value is not a bearer token for the API.
    let session = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("tenancy_admin="))
        .expect("the login cookie");
    let as_bearer = Request::get("/admin/api/tenants")
        .header(header::AUTHORIZATION, format!("Bearer {session}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&w, as_bearer).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_are_secure_and_kept_to_the_portals_path() {
    let w = world().await;
    // The CSRF cookie a page sets to a signed-in browser that has none:
    // the same attributes as the login's.
    let cookies = login(&w).await;
    let session = cookies
        .split("; ")
        .find(|c| c.starts_with("tenancy_admin="))
        .unwrap();
    let answer = send(&w, page("/admin/tenants", session)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let csrf = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(csrf.starts_with("tenancy_admin_csrf="), "{csrf}");
    assert_eq!(
        attributes(csrf),
        ["Path=/admin", "HttpOnly", "SameSite=Strict", "Secure"]
    );

    // Mounted at the root, with `Secure` turned off for plain HTTP.
    let portal = AdminPortal::new(
        w.store.clone(),
        TenantLifecycle::new(w.store.clone(), w.pool.clone()),
        AdminAuth::token(TOKEN, "ops").unwrap(),
    )
    .mounted_at("/")
    .secure_cookies(false);
    let response = portal
        .router()
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("token={TOKEN}")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 2);
    for cookie in set {
        assert_eq!(
            attributes(cookie),
            ["Path=/", "HttpOnly", "SameSite=Strict"],
            "{cookie}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn new_tenants_go_where_the_portal_places_them_or_nowhere() {
    use tenancy_core::{Placement, SchemaName};
    use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

    let w = world().await;
    let in_own_schema = |id: &TenantId| Placement::shared().with_schema(SchemaName::for_tenant(id));
    let create = |app: Router, slug: &str| {
        let request = api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({ "slug": slug })),
        );
        async move { app.oneshot(request).await.unwrap() }
    };

    // A lifecycle that provisions schemas: the tenant gets its schema,
    // migrated, and its transactions run there.
    let provisioner = SchemaProvisioner::new(
        PgPool::connect(w.db.provisioner_url()).await.unwrap(),
        Migrations::new()
            .add(
                1,
                "orders",
                "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL);",
            )
            .unwrap(),
    )
    .grant_to(APP_ROLE)
    .unwrap();
    let portal = AdminPortal::new(
        w.store.clone(),
        TenantLifecycle::new(w.store.clone(), w.pool.clone()).with_schemas(provisioner),
        AdminAuth::token(TOKEN, "ops").unwrap(),
    )
    .place_new_tenants(in_own_schema);
    let app = Router::new().nest("/admin", portal.router());
    assert_eq!(create(app, "newco").await.status(), StatusCode::CREATED);
    let newco = w
        .store
        .by_slug(&"newco".parse().unwrap())
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        newco.placement().schema(),
        Some(&SchemaName::for_tenant(&newco.id()))
    );
    let mut tx = w.pool.begin(&newco).await.unwrap();
    sqlx::query("INSERT INTO orders (id, item) VALUES (1, 'tea')")
        .execute(&mut tx)
        .await
        .unwrap();
    let schema: String = sqlx::query_scalar("SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'orders' AND table_schema <> 'public'")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(schema, SchemaName::for_tenant(&newco.id()).as_str());
    tx.commit().await.unwrap();

    // A lifecycle that cannot provision one: 501 with the reason, and no
    // tenant that would answer 503 on every request.
    let portal = AdminPortal::new(
        w.store.clone(),
        TenantLifecycle::new(w.store.clone(), w.pool.clone()),
        AdminAuth::token(TOKEN, "ops").unwrap(),
    )
    .place_new_tenants(in_own_schema);
    let app = Router::new().nest("/admin", portal.router());
    let response = create(app, "nowhere").await;
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "unsupported");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("SchemaProvisioner"),
        "{body}"
    );
    assert!(
        w.store
            .by_slug(&"nowhere".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// Configuring a portal that has a clone copies what it had: the hook and
/// the placement stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_portal_configured_after_a_clone_keeps_its_hook_and_placement() {
    use tenancy_core::{Placement, TargetName};

    let w = world().await;
    let changed = Arc::new(AtomicUsize::new(0));
    let first = AdminPortal::new(
        w.store.clone(),
        TenantLifecycle::new(w.store.clone(), w.pool.clone()),
        AdminAuth::token(TOKEN, "ops").unwrap(),
    )
    .on_change({
        let changed = changed.clone();
        move |_| {
            changed.fetch_add(1, Ordering::SeqCst);
        }
    })
    .place_new_tenants(|_| Placement::shared().with_target(TargetName::new("east").unwrap()));
    let kept = first.clone();
    let portal = first.mounted_at("/admin");
    let response = Router::new()
        .nest("/admin", portal.router())
        .oneshot(api(
            "POST",
            "/admin/api/tenants",
            Some(serde_json::json!({ "slug": "cloned" })),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(changed.load(Ordering::SeqCst), 1, "the hook ran");
    let cloned = w
        .store
        .by_slug(&"cloned".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        cloned.placement().target().map(TargetName::as_str),
        Some("east")
    );
    drop(kept);
}
