//! "Log in as A, try B's ids": what an attacker with a valid login for one
//! tenant tries first, as reusable checks.
//!
//! - [`cross_tenant_sql`]: at the database, as the application role in a
//!   transaction bound to tenant A the way the SDK binds it, every id of
//!   tenant B's rows is selected, updated and deleted. Nothing may be seen
//!   or touched, and nothing is changed (each attempt rolls back).
//! - [`HttpProbe`]: over HTTP, each of B's resources is requested with A's
//!   credentials; every answer must be a 403 or a 404 (never a 2xx, which
//!   leaks, nor a 5xx, which hides a crash behind the wall).
//!
//! ```no_run
//! use tenancy_testing::probe::cross_tenant_sql;
//!
//! let db = tenancy_testing::test_database();
//! db.owner_sql(&tenancy_testing::fixtures::orders_table_sql()).unwrap();
//! // ... insert rows of two tenants ...
//! let reach = cross_tenant_sql(&db, "app.tenant_id", "orders", "tenant_id", "id", ACME, GLOBEX).unwrap();
//! reach.assert_isolated();
//! # const ACME: &str = ""; const GLOBEX: &str = "";
//! ```

use std::fmt;

use crate::{HarnessError, TestDatabase};

/// What tenant A reached of tenant B's rows: the ids it saw, updated and
/// deleted (each attempt was rolled back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossTenantReach {
    /// The table.
    pub table: String,
    /// How many of B's ids were tried.
    pub tried: usize,
    /// B's ids that A could read.
    pub seen: Vec<String>,
    /// B's ids that A could update.
    pub updated: Vec<String>,
    /// B's ids that A could delete.
    pub deleted: Vec<String>,
}

impl CrossTenantReach {
    /// Whether A reached nothing of B's.
    pub fn is_isolated(&self) -> bool {
        self.seen.is_empty() && self.updated.is_empty() && self.deleted.is_empty()
    }

    /// Fails the test unless A reached nothing of B's.
    ///
    /// # Panics
    ///
    /// With what leaked; and when B had no rows to try, because a probe
    /// that tried nothing proves nothing.
    #[allow(clippy::panic)]
    pub fn assert_isolated(&self) {
        assert!(
            self.tried > 0,
            "the probe of {} tried no ids: give the victim tenant rows first",
            self.table
        );
        assert!(self.is_isolated(), "{self}");
    }
}

impl fmt::Display for CrossTenantReach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: of {} ids of the other tenant, seen {:?}, updated {:?}, deleted {:?}",
            self.table, self.tried, self.seen, self.updated, self.deleted
        )
    }
}

/// A SQL string literal of `text`.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Logs in as tenant `attacker` and tries tenant `victim`'s ids in `table`.
///
/// The victim's ids (`id_column` of its rows, as text) are read by the
/// administrator, past every policy. Then, as [`APP_ROLE`](crate::APP_ROLE)
/// in transactions that set `setting` to `attacker` with `SET LOCAL` (as the
/// SDK's pools do), each id is selected, updated (`SET id = id`) and deleted
/// by its id alone, without a tenant condition, as a forgotten `WHERE`
/// would. Every transaction rolls back. The names are the test's own and
/// are written into the SQL as they are.
pub fn cross_tenant_sql(
    db: &TestDatabase,
    setting: &str,
    table: &str,
    tenant_column: &str,
    id_column: &str,
    attacker: &str,
    victim: &str,
) -> Result<CrossTenantReach, HarnessError> {
    let ids = db.admin_sql(&format!(
        "SELECT {id_column}::text FROM {table} WHERE {tenant_column}::text = {} ORDER BY 1",
        literal(victim)
    ))?;
    let ids: Vec<String> = ids.lines().map(str::to_owned).collect();
    let mut reach = CrossTenantReach {
        table: table.to_owned(),
        tried: ids.len(),
        seen: Vec::new(),
        updated: Vec::new(),
        deleted: Vec::new(),
    };
    for id in &ids {
        let by_id = format!("{id_column}::text = {}", literal(id));
        let attempts = [
            format!("SELECT count(*) FROM {table} WHERE {by_id}"),
            format!(
                "WITH x AS (UPDATE {table} SET {id_column} = {id_column} WHERE {by_id} RETURNING 1) SELECT count(*) FROM x"
            ),
            format!(
                "WITH x AS (DELETE FROM {table} WHERE {by_id} RETURNING 1) SELECT count(*) FROM x"
            ),
        ];
        for (attempt, reached) in
            attempts
                .iter()
                .zip([&mut reach.seen, &mut reach.updated, &mut reach.deleted])
        {
            let count = db.app_sql(&format!(
                "BEGIN; SET LOCAL {setting} = {}; {attempt}; ROLLBACK;",
                literal(attacker)
            ))?;
            if count.lines().any(|line| line.trim() != "0") {
                reached.push(id.clone());
            }
        }
    }
    Ok(reach)
}

/// Requests of one tenant's resources made with another tenant's
/// credentials, and the answers: see [`HttpProbe::assert_denied`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpProbe {
    /// Each attempt: method and path, and the status it got.
    pub attempts: Vec<(String, u16)>,
}

impl HttpProbe {
    /// An empty probe; [`record`](Self::record) each answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `what` (such as `GET /orders/42`) got `status`.
    pub fn record(&mut self, what: impl Into<String>, status: u16) {
        self.attempts.push((what.into(), status));
    }

    /// The attempts that were not denied: any status but 403 and 404.
    pub fn leaks(&self) -> Vec<&(String, u16)> {
        self.attempts
            .iter()
            .filter(|(_, status)| !matches!(status, 403 | 404))
            .collect()
    }

    /// Sends each request to `service` (an axum `Router`, any tower
    /// service) and records its answer (feature `http`). Build the requests
    /// with the attacker's credentials and the victim's ids. An error from
    /// the service counts as status 0 (not denied).
    ///
    /// # Panics
    ///
    /// When the service is not ready to take a request (it failed).
    ///
    /// ```no_run
    /// # async fn demo(app: axum::Router) {
    /// use tenancy_testing::probe::HttpProbe;
    ///
    /// let as_acme = |method: &str, path: &str| {
    ///     http::Request::builder()
    ///         .method(method)
    ///         .uri(path)
    ///         .header("x-tenant", "acme")
    ///         .body(axum::body::Body::empty())
    ///         .unwrap()
    /// };
    /// let globex_order = "/orders/17";
    /// let probe = HttpProbe::send_all(
    ///     app,
    ///     ["GET", "PATCH", "DELETE"].map(|m| as_acme(m, globex_order)),
    /// )
    /// .await;
    /// probe.assert_denied();
    /// # }
    /// ```
    #[cfg(feature = "http")]
    #[allow(clippy::panic)]
    pub async fn send_all<S, B, R>(
        service: S,
        requests: impl IntoIterator<Item = http::Request<B>>,
    ) -> Self
    where
        S: tower_service::Service<http::Request<B>, Response = http::Response<R>> + Clone,
        S::Error: fmt::Debug,
    {
        let mut probe = Self::new();
        for request in requests {
            let what = format!("{} {}", request.method(), request.uri());
            let mut service = service.clone();
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .unwrap_or_else(|err| panic!("the service is not ready for {what}: {err:?}"));
            let status = service
                .call(request)
                .await
                .map_or(0, |response| response.status().as_u16());
            probe.record(what, status);
        }
        probe
    }

    /// Fails the test unless every attempt was answered 403 or 404: a 2xx
    /// leaks the other tenant's data, a 5xx crashed on it (and may leak it
    /// in logs), a 400 means the probe did not even reach the wall.
    ///
    /// # Panics
    ///
    /// With the attempts that were not denied; and when nothing was tried.
    #[allow(clippy::panic)]
    pub fn assert_denied(&self) {
        assert!(!self.attempts.is_empty(), "the HTTP probe tried nothing");
        let leaks = self.leaks();
        assert!(
            leaks.is_empty(),
            "other tenant's resources were not denied (403/404): {leaks:?}"
        );
    }
}
