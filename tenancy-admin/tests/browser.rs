//! The admin portal in a real headless browser: Debian's Chromium, driven
//! by `chromedriver` over the W3C `WebDriver` protocol, against the portal served on
//! 127.0.0.1 with real PostgreSQL. Signs in through the form, creates a
//! tenant through the form (cookies, CSRF and redirects as a browser does
//! them), and checks the screenshots are real pages, not blank ones.
//!
//! Chromium and `chromedriver` come from `scripts/setup.sh` (packages
//! `chromium` and `chromium-driver`); without them the test fails and says
//! so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sqlx::PgPool;
use tenancy_admin::{AdminAuth, AdminPortal};
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::lifecycle::TenantLifecycle;
use tenancy_sqlx::{PgTenantStore, TenantPool};

const TOKEN: &str = "a-long-admin-token-for-the-browser-test";

/// `chromedriver` on a free port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start ({e}): install Debian's chromium and \
                     chromium-driver packages (bash scripts/setup.sh does, as root)"
                )
            });
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(answer) = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                && answer.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on port {port} within 10 s");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(
            !answer["value"]["error"].is_string(),
            "WebDriver {path}: {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    async fn session(&self, profile: &std::path::Path) -> String {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let created = self
            .call(reqwest::Method::POST, "/session", Some(capabilities))
            .await;
        created["sessionId"].as_str().unwrap().to_owned()
    }
}

/// A browser session's actions.
struct Browser<'d> {
    driver: &'d Driver,
    session: String,
}

impl Browser<'_> {
    async fn go(&self, url: &str) {
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/url", self.session),
                Some(json!({"url": url})),
            )
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element", self.session),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{element}/value", self.session),
                Some(json!({"text": text})),
            )
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.driver
            .call(
                reqwest::Method::POST,
                &format!("/session/{}/element/{element}/click", self.session),
                Some(json!({})),
            )
            .await;
    }

    async fn source(&self) -> String {
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/source", self.session),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page's source once it contains `text` (the browser may still
    /// be loading the page a click led to); panics after 20 s.
    async fn source_with(&self, text: &str) -> String {
        for _ in 0..200 {
            let source = self.source().await;
            if source.contains(text) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}: {}", self.source().await);
    }

    async fn url(&self) -> String {
        self.driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/url", self.session),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page as PNG, checked to be a real page: the window's size, and
    /// more than a handful of colours (text, links, the header bar).
    async fn screenshot(&self, name: &str) -> Vec<u8> {
        let encoded = self
            .driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/screenshot", self.session),
                None,
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert!(
            info.width >= 800 && info.height >= 600,
            "{name}: {}x{}",
            info.width,
            info.height
        );
        let channels = info.color_type.samples();
        let colours: std::collections::HashSet<&[u8]> =
            pixels[..info.buffer_size()].chunks(channels).collect();
        assert!(
            colours.len() > 20,
            "{name}: a blank page ({} colours)",
            colours.len()
        );
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        png
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_sign_in_and_create_a_tenant_in_a_real_browser() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())
        .unwrap();
    let owner = PgPool::connect(db.owner_url()).await.unwrap();
    let store = PgTenantStore::new(owner);
    db.owner_sql(&store.create_table_sql()).unwrap();
    for (slug, name) in [("acme", "Acme Restaurant"), ("globex", "Globex Diner")] {
        let tenant = Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
            .name(name)
            .build();
        store.insert(&tenant, None).await.unwrap();
    }
    let pool = TenantPool::new(PgPool::connect(db.app_url()).await.unwrap());
    let portal = AdminPortal::new(
        store.clone(),
        TenantLifecycle::new(store, pool),
        AdminAuth::token(TOKEN, "ops").unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://127.0.0.1:{}/admin",
        listener.local_addr().unwrap().port()
    );
    let app = axum::Router::new().nest("/admin", portal.router());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = Driver::start().await;
    let profile = tempdir();
    let browser = Browser {
        session: driver.session(&profile).await,
        driver: &driver,
    };

    browser.go(&format!("{base}/tenants")).await;
    assert!(browser.source().await.contains("Sign in"));
    browser.screenshot("portal-login").await;
    browser.type_into("input[name=token]", TOKEN).await;
    browser.click("button[type=submit]").await;
    let listed = browser.source_with("Signed in as").await;
    assert!(
        listed.contains("Acme Restaurant") && listed.contains("Globex Diner"),
        "{listed}"
    );
    browser.screenshot("portal-tenants").await;

    // The create form, as a browser submits it: cookies, CSRF, redirect.
    browser.type_into("input[name=slug]", "bistro").await;
    browser
        .type_into("input[name=name]", "Bistro <b>Bold</b>")
        .await;
    browser.type_into("input[name=plan]", "pro").await;
    browser
        .click("form[method=post][action$='/tenants'] button")
        .await;
    let detail = browser.source_with("Bistro &lt;b&gt;").await;
    assert!(
        browser.url().await.ends_with("/admin/tenants/bistro"),
        "{}",
        browser.url().await
    );
    assert!(
        detail.contains("Bistro &lt;b&gt;Bold&lt;/b&gt;"),
        "{detail}"
    );
    assert!(
        !detail.contains("Acme") && !detail.contains("Globex"),
        "only its tenant"
    );
    browser.screenshot("portal-tenant").await;

    let _ = driver
        .call(
            reqwest::Method::DELETE,
            &format!("/session/{}", browser.session),
            None,
        )
        .await;
    let _ = std::fs::remove_dir_all(profile);
}

/// A fresh, empty Chromium profile directory.
fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tenancy-admin-chromium-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
