//! The scripted demo: two tenants share the API and never see each other.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy_core::Tenant;

use tenancy_sqlx::Scoped;

use crate::api::{Order, Orders};
use crate::nightly::{Jobs, SalesReport, SalesReports};
use crate::{Database, Server};

/// How a request names its tenant.
#[derive(Clone, Copy)]
enum Via<'a> {
    /// `Host: {slug}.localhost:PORT`.
    Host(&'a str),
    /// `X-Tenant: {slug}` on the plain `localhost` host.
    Header(&'a str),
    /// Neither.
    Nothing,
}

struct Client {
    http: reqwest::Client,
    port: u16,
}

impl Client {
    async fn send(
        &self,
        method: Method,
        path: &str,
        via: Via<'_>,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value, Option<String>), reqwest::Error> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method, url);
        request = match via {
            Via::Host(slug) => request.header("host", format!("{slug}.localhost:{}", self.port)),
            Via::Header(slug) => request
                .header("host", format!("localhost:{}", self.port))
                .header("x-tenant", slug),
            Via::Nothing => request.header("host", format!("localhost:{}", self.port)),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            retry_after,
        ))
    }

    async fn token(&self, tenant: &str, user: &str) -> Result<String, Box<dyn std::error::Error>> {
        let (status, body, _) = self
            .send(
                Method::POST,
                "/auth/demo-token",
                Via::Nothing,
                None,
                Some(json!({"tenant": tenant, "user": user})),
            )
            .await?;
        match body["token"].as_str() {
            Some(token) if status == StatusCode::OK => Ok(token.to_owned()),
            _ => Err(format!("demo token for {tenant}: {status} {body}").into()),
        }
    }
}

struct Steps {
    n: usize,
    failed: usize,
}

impl Steps {
    fn check(&mut self, ok: bool, what: &str, outcome: impl std::fmt::Display) {
        self.n += 1;
        let mark = if ok { "ok  " } else { "FAIL" };
        println!("[{mark}] {:>2}. {what}\n          → {outcome}", self.n);
        if !ok {
            self.failed += 1;
        }
    }

    fn section(title: &str) {
        println!("\n{title}");
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

/// The cast and the script's state.
struct Story<'a> {
    client: Client,
    steps: Steps,
    db: &'a Database,
    server: &'a Server,
    acme: &'a Tenant,
    globex: &'a Tenant,
    alice: String,
    bob: String,
}

type StepResult = Result<(), Box<dyn std::error::Error>>;

/// Plays the story against `server`; `Ok(true)` when every step behaved.
pub async fn run(db: &Database, server: &Server) -> Result<bool, Box<dyn std::error::Error>> {
    let client = Client {
        http: reqwest::Client::new(),
        port: server.addr.port(),
    };
    let (Some(acme), Some(globex)) = (db.tenant("acme"), db.tenant("globex")) else {
        return Err("seed tenants acme and globex are missing".into());
    };
    Steps::section("Two tenants sign in: alice works at acme, bob at globex.");
    let alice = client.token("acme", "alice").await?;
    let bob = client.token("globex", "bob").await?;
    let mut story = Story {
        client,
        steps: Steps { n: 0, failed: 0 },
        db,
        server,
        acme,
        globex,
        alice,
        bob,
    };
    story.steps.check(
        true,
        "POST /auth/demo-token for alice@acme and bob@globex",
        "200, signed tokens that carry the tenant id",
    );
    let (acme_orders, globex_order) = story.take_orders().await?;
    story.list_own_orders().await?;
    story.attack_by_id(&globex_order).await?;
    story.middleware_refusals().await?;
    story.noisy_neighbour().await?;
    story.friday_night_bug(acme_orders.len()).await?;
    story.nightly_reports().await?;

    let Steps { n, failed } = story.steps;
    println!();
    if failed == 0 {
        println!("All {n} steps behaved as expected: no tenant saw another tenant's data.");
    } else {
        println!("{failed} of {n} steps misbehaved.");
    }
    Ok(failed == 0)
}

impl Story<'_> {
    async fn take_orders(&mut self) -> Result<(Vec<Order>, Order), Box<dyn std::error::Error>> {
        Steps::section("Each tenant takes orders (acme by subdomain, globex by X-Tenant header).");
        let mut acme_orders = Vec::new();
        for (item, quantity, total) in [("Burger", 2, 1500), ("Fries", 1, 400)] {
            let body = json!({"item": item, "quantity": quantity, "total_cents": total});
            let (status, order, _) = self
                .client
                .send(
                    Method::POST,
                    "/orders",
                    Via::Host("acme"),
                    Some(&self.alice),
                    Some(body),
                )
                .await?;
            let order: Option<Order> = serde_json::from_value(order).ok();
            let ok = status == StatusCode::CREATED
                && order
                    .as_ref()
                    .is_some_and(|o| o.tenant_id == *self.acme.id().as_uuid());
            let what = format!("acme (Host: acme.localhost) POST /orders {item} x{quantity}");
            self.steps.check(ok, &what, status);
            acme_orders.extend(order);
        }
        let body = json!({"item": "Taco", "quantity": 3, "total_cents": 900});
        let (status, order, _) = self
            .client
            .send(
                Method::POST,
                "/orders",
                Via::Header("globex"),
                Some(&self.bob),
                Some(body),
            )
            .await?;
        let globex_order: Option<Order> = serde_json::from_value(order).ok();
        let what = "globex (X-Tenant: globex) POST /orders Taco x3";
        self.steps
            .check(status == StatusCode::CREATED, what, status);
        let globex_order = globex_order.ok_or("globex's order was not created")?;
        Ok((acme_orders, globex_order))
    }

    async fn list_own_orders(&mut self) -> StepResult {
        Steps::section("Each tenant lists only its own orders.");
        for (slug, tenant, want) in [("acme", self.acme, 2), ("globex", self.globex, 1)] {
            let token = if slug == "acme" {
                &self.alice
            } else {
                &self.bob
            };
            let (status, list, _) = self
                .client
                .send(Method::GET, "/orders", Via::Host(slug), Some(token), None)
                .await?;
            let orders: Vec<Order> = serde_json::from_value(list).unwrap_or_default();
            let ok = status == StatusCode::OK
                && orders.len() == want
                && orders.iter().all(|o| o.tenant_id == *tenant.id().as_uuid());
            let items: Vec<&str> = orders.iter().map(|o| o.item.as_str()).collect();
            let outcome = format!("{status}, {} order(s): {}", orders.len(), items.join(", "));
            self.steps
                .check(ok, &format!("{slug} GET /orders"), outcome);
        }
        Ok(())
    }

    async fn attack_by_id(&mut self, globex_order: &Order) -> StepResult {
        Steps::section("acme goes after globex's order by id.");
        let path = format!("/orders/{}", globex_order.id);
        let attempts = [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"quantity": 99}))),
            (Method::DELETE, None),
        ];
        for (method, body) in attempts {
            let label = format!("acme {method} {path}");
            let (status, body, _) = self
                .client
                .send(method, &path, Via::Host("acme"), Some(&self.alice), body)
                .await?;
            self.steps.check(
                status == StatusCode::NOT_FOUND,
                &label,
                format!("{status} {}", error_of(&body)),
            );
        }
        let (status, body, _) = self
            .client
            .send(
                Method::GET,
                &path,
                Via::Host("globex"),
                Some(&self.bob),
                None,
            )
            .await?;
        let intact = status == StatusCode::OK && body["quantity"] == 3;
        let outcome = format!("{status}, quantity {} (untouched)", body["quantity"]);
        self.steps
            .check(intact, "globex GET its order afterwards", outcome);
        Ok(())
    }

    async fn middleware_refusals(&mut self) -> StepResult {
        Steps::section("The middleware refuses before any handler runs.");
        let alice = Some(self.alice.as_str());
        let cases = [
            (
                "alice's acme token on globex's host",
                Via::Host("globex"),
                alice,
                StatusCode::FORBIDDEN,
            ),
            (
                "unknown tenant (ghost.localhost)",
                Via::Host("ghost"),
                alice,
                StatusCode::NOT_FOUND,
            ),
            (
                "no tenant at all (plain localhost, no X-Tenant)",
                Via::Nothing,
                alice,
                StatusCode::BAD_REQUEST,
            ),
            (
                "acme without a token",
                Via::Host("acme"),
                None,
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (what, via, token, want) in cases {
            let (status, body, _) = self
                .client
                .send(Method::GET, "/orders", via, token, None)
                .await?;
            self.steps.check(
                status == want,
                what,
                format!("{status} {}", error_of(&body)),
            );
        }
        let (status, body, _) = self
            .client
            .send(
                Method::GET,
                "/orders/not-a-uuid",
                Via::Host("acme"),
                alice,
                None,
            )
            .await?;
        let outcome = format!("{status} {}", error_of(&body));
        self.steps.check(
            status == StatusCode::BAD_REQUEST,
            "acme GET /orders/not-a-uuid",
            outcome,
        );
        Ok(())
    }

    async fn noisy_neighbour(&mut self) -> StepResult {
        Steps::section(
            "A noisy neighbour: tiny (trial plan, 1 request/s, burst 3) hammers the API.",
        );
        let carol = self.client.token("tiny", "carol").await?;
        let mut limited = None;
        for _ in 0..6 {
            let (status, _, retry) = self
                .client
                .send(
                    Method::GET,
                    "/orders",
                    Via::Host("tiny"),
                    Some(&carol),
                    None,
                )
                .await?;
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(retry.unwrap_or_default());
                break;
            }
        }
        let (acme_status, _, _) = self
            .client
            .send(
                Method::GET,
                "/orders",
                Via::Host("acme"),
                Some(&self.alice),
                None,
            )
            .await?;
        let outcome = format!(
            "tiny got 429 (Retry-After: {}s); acme still {acme_status}",
            limited.as_deref().unwrap_or("-")
        );
        let ok = limited.is_some() && acme_status == StatusCode::OK;
        self.steps.check(
            ok,
            "6 quick requests from tiny, then one from acme",
            outcome,
        );
        Ok(())
    }

    /// The bug every multi-tenant app has once: a query without the tenant
    /// filter. Run through a tenant transaction, RLS still returns only the
    /// tenant's rows.
    async fn friday_night_bug(&mut self, acme_orders: usize) -> StepResult {
        Steps::section("The Friday-night bug: a handler forgets WHERE tenant_id.");
        let mut tx = self.server.state.pool.begin(self.acme).await?;
        let seen: Vec<Order> = sqlx::query_as("SELECT * FROM orders")
            .fetch_all(&mut tx)
            .await?;
        tx.commit().await?;
        let total = self.db.count_all_orders().await?;
        let ok = seen.len() == acme_orders
            && seen
                .iter()
                .all(|o| o.tenant_id == *self.acme.id().as_uuid());
        let outcome = match self.db.mode {
            crate::Mode::SharedSchema => format!(
                "{} rows, all acme's; the table holds {total}: row-level security filtered the rest",
                seen.len()
            ),
            crate::Mode::SchemaPerTenant => format!(
                "{} rows, all acme's; {total} orders in all: the other tenants' are in their own schemas",
                seen.len()
            ),
        };
        self.steps.check(
            ok,
            "raw `SELECT * FROM orders` inside acme's tenant transaction",
            outcome,
        );
        Ok(())
    }

    /// Background jobs: each tenant's nightly sales report goes to its
    /// tier's queue and runs in its own tenant's scope; a job forged for a
    /// tenant that does not exist is killed before it runs.
    async fn nightly_reports(&mut self) -> StepResult {
        Steps::section(
            "Night falls: each tenant's sales report runs as a background job, on its tier's queue.",
        );
        let Some(tiny) = self.db.tenant("tiny") else {
            return Err("seed tenant tiny is missing".into());
        };
        let jobs = Jobs::connect(self.db).await?;
        let night: String = sqlx::query_scalar("SELECT to_char(now(), 'YYYY-MM-DD HH24:MI:SS.US')")
            .fetch_one(&self.db.admin)
            .await?;
        let mut queues = Vec::new();
        for tenant in [self.acme, self.globex, tiny] {
            queues.push((
                tenant.slug().to_string(),
                jobs.enqueue(tenant, &night)
                    .await
                    .map_err(|e| e.to_string())?,
            ));
        }
        // Someone with access to the queue forges a job for a tenant that
        // does not exist.
        let ghost = Tenant::builder(tenancy_core::TenantId::new_v4(), "ghost".parse()?).build();
        let ghost_queue = jobs.enqueue(&ghost, &night).await?;
        let statuses = jobs
            .work(
                &["pos:pro", "pos:shared"],
                self.server.state.directory.clone(),
                self.server.state.pool.clone(),
            )
            .await?;
        jobs.close().await;

        // Each tenant reads its report and counts its orders in its own
        // transaction.
        let mut seen = Vec::new();
        let mut own = true;
        for tenant in [self.acme, self.globex, tiny] {
            let mut tx = self.server.state.pool.begin(tenant).await?;
            let reports: Vec<SalesReport> = Scoped::<SalesReports>::select()
                .where_eq(SalesReports::night, night.clone())
                .for_tenant(tenant)
                .fetch_all(&mut tx)
                .await?;
            let orders = Scoped::<Orders>::select()
                .for_tenant(tenant)
                .count(&mut tx)
                .await?;
            tx.commit().await?;
            own &= reports.len() == 1
                && reports[0].orders == orders
                && reports[0].tenant_id == *tenant.id().as_uuid();
            seen.push(format!(
                "{} {}",
                tenant.slug(),
                reports.first().map_or(-1, |r| r.orders)
            ));
        }
        let done = statuses.iter().filter(|(_, s)| s == "Done").count();
        let killed: Vec<&str> = statuses
            .iter()
            .filter(|(_, s)| s == "Killed")
            .map(|(q, _)| q.as_str())
            .collect();
        let queues_shown: Vec<String> = queues.iter().map(|(t, q)| format!("{t} → {q}")).collect();
        self.steps.check(
            own && done == 3 && queues[0].1 == "pos:pro" && queues[2].1 == "pos:shared",
            &format!("nightly report jobs ({})", queues_shown.join(", ")),
            format!(
                "{done} done, each in its own tenant; orders counted: {}",
                seen.join(", ")
            ),
        );
        let rows = self.db.count_reports(&night).await?;
        self.steps.check(
            killed == [ghost_queue.as_str()] && rows == 3,
            "a job forged for a tenant that does not exist",
            format!("killed before it ran; {rows} report rows tonight, one per real tenant"),
        );
        Ok(())
    }
}
