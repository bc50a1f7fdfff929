//! The cases: one transaction that reads one order by key, written the way
//! each approach writes it, each on a pool of one connection of its own.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::Tenant;
use tenancy_core::rls::TEMP_LAST_SQL;
use tenancy_sqlx::TenantPool;
use tenancy_testing::proxy::TcpProxy;
use uuid::Uuid;

use crate::data::Data;

tenancy_sqlx::tenant_table!(pub Orders = "orders");

type Row = (Uuid, i32);

/// One order by key, on the table under RLS (the tenant in the `WHERE`
/// too, as an app writes it; RLS adds its own check).
pub const BY_KEY: &str = "SELECT id, quantity FROM orders WHERE tenant_id = $1 AND id = $2";
/// The same on the table without RLS.
pub const BY_KEY_PLAIN: &str =
    "SELECT id, quantity FROM orders_plain WHERE tenant_id = $1 AND id = $2";

/// How a case writes its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    HandSetLocal,
    HandSetLocalTempLast,
    TenantPool,
    TenantPoolBuilder,
    TenantPoolNoAcquirePing,
    Tenaxum,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Plain,
        Kind::HandSetLocal,
        Kind::HandSetLocalTempLast,
        Kind::TenantPool,
        Kind::TenantPoolBuilder,
        Kind::TenantPoolNoAcquirePing,
        Kind::Tenaxum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::HandSetLocal => "hand_set_local",
            Kind::HandSetLocalTempLast => "hand_set_local_temp_last",
            Kind::TenantPool => "tenant_pool",
            Kind::TenantPoolBuilder => "tenant_pool_builder",
            Kind::TenantPoolNoAcquirePing => "tenant_pool_no_acquire_ping",
            Kind::Tenaxum => "tenaxum",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Plain => "plain sqlx, explicit `WHERE tenant_id`, table without RLS (baseline)",
            Kind::HandSetLocal => {
                "hand-written `BEGIN; SET LOCAL app.tenant_id = '…'` (one message), RLS table: the limit"
            }
            Kind::HandSetLocalTempLast => {
                "the same with the SDK's temporary-table wall in the message"
            }
            Kind::TenantPool => {
                "`TenantPool::begin`, raw SQL through `&mut tx` (the session is reset at the end)"
            }
            Kind::TenantPoolBuilder => "`TenantPool::begin`, `Scoped` builder",
            Kind::TenantPoolNoAcquirePing => {
                "`TenantPool::begin`, pool with `test_before_acquire(false)`"
            }
            Kind::Tenaxum => "tenaxum 0.2 `begin_tenant` (separate `set_config`), sqlx 0.8",
        }
    }
}

pub type Run =
    Arc<dyn Fn(Tenant, Uuid) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

pub struct Case {
    pub kind: Kind,
    pub run: Run,
}

impl Case {
    /// Every case, connected straight to the server.
    pub async fn all(data: &Data) -> Vec<Case> {
        let mut cases = Vec::new();
        for kind in Kind::ALL {
            cases.push(Case::connect(kind, data.db.app_url(), None).await);
        }
        cases
    }

    /// `kind` on a one-connection pool to `url`, or to `port` on 127.0.0.1
    /// (a proxy) when given.
    pub async fn connect(kind: Kind, url: &str, port: Option<u16>) -> Case {
        let mut options = PgConnectOptions::from_str(url).expect("a valid URL");
        if let Some(port) = port {
            options = options.host("127.0.0.1").port(port);
        }
        let pool_options = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(kind != Kind::TenantPoolNoAcquirePing);
        let raw = pool_options
            .connect_with(options)
            .await
            .expect("an app-role pool");
        let pool = TenantPool::new(raw.clone());
        let run: Run = match kind {
            Kind::Plain => Arc::new(move |tenant, id| {
                let raw = raw.clone();
                Box::pin(async move { plain_tx(&raw, &tenant, id).await })
            }),
            Kind::HandSetLocal | Kind::HandSetLocalTempLast => {
                let suffix = if kind == Kind::HandSetLocal {
                    ""
                } else {
                    TEMP_LAST_SQL
                };
                Arc::new(move |tenant, id| {
                    let raw = raw.clone();
                    Box::pin(async move { hand_set_local_tx(&raw, &tenant, id, suffix).await })
                })
            }
            Kind::TenantPool | Kind::TenantPoolNoAcquirePing => Arc::new(move |tenant, id| {
                let pool = pool.clone();
                Box::pin(async move { tenant_pool_tx(&pool, &tenant, id).await })
            }),
            Kind::TenantPoolBuilder => Arc::new(move |tenant, id| {
                let pool = pool.clone();
                Box::pin(async move { tenant_pool_builder_tx(&pool, &tenant, id).await })
            }),
            Kind::Tenaxum => {
                let url = match port {
                    Some(port) => with_port(url, port),
                    None => url.to_owned(),
                };
                tenaxum_case(&url).await
            }
        };
        Case { kind, run }
    }
}

/// Plain sqlx: begin, the query on the table without RLS, commit.
pub async fn plain_tx(raw: &PgPool, tenant: &Tenant, id: Uuid) -> bool {
    let mut tx = raw.begin().await.expect("begin");
    let found = by_key(&mut *tx, BY_KEY_PLAIN, tenant, id).await;
    tx.commit().await.expect("commit");
    found
}

/// Hand-written: `BEGIN; SET LOCAL app.tenant_id = '…'` and `suffix` in
/// one message, the query on the RLS table, commit.
pub async fn hand_set_local_tx(raw: &PgPool, tenant: &Tenant, id: Uuid, suffix: &str) -> bool {
    // The id is a UUID: safe as a literal.
    let begin = format!("BEGIN; SET LOCAL app.tenant_id = '{}'{suffix}", tenant.id());
    let mut tx = raw
        .begin_with(sqlx::AssertSqlSafe(begin))
        .await
        .expect("begin");
    let found = by_key(&mut *tx, BY_KEY, tenant, id).await;
    tx.commit().await.expect("commit");
    found
}

/// `TenantPool::begin`, the query in raw SQL, commit.
pub async fn tenant_pool_tx(pool: &TenantPool, tenant: &Tenant, id: Uuid) -> bool {
    let mut tx = pool.begin(tenant).await.expect("begin");
    let found = by_key(&mut tx, BY_KEY, tenant, id).await;
    tx.commit().await.expect("commit");
    found
}

/// `TenantPool::begin`, the query through the `Scoped` builder, commit.
pub async fn tenant_pool_builder_tx(pool: &TenantPool, tenant: &Tenant, id: Uuid) -> bool {
    let mut tx = pool.begin(tenant).await.expect("begin");
    let found = crate::pairs::by_key_builder(&mut tx, tenant, id).await;
    tx.commit().await.expect("commit");
    found
}

/// The peer on its own sqlx (0.8), as its users run it.
async fn tenaxum_case(url: &str) -> Run {
    use tenaxum::PgPoolExt;
    let pool = sqlx08::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect(url)
        .await
        .expect("an app-role pool (sqlx 0.8)");
    Arc::new(move |tenant, id| {
        let pool = pool.clone();
        Box::pin(async move {
            let peer_tenant = tenaxum::TenantId::from(*tenant.id().as_uuid());
            let mut tx = pool.begin_tenant(&peer_tenant).await.expect("begin_tenant");
            let row: Option<Row> = sqlx08::query_as(BY_KEY)
                .bind(tenant.id().as_uuid())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .expect("select");
            tx.commit().await.expect("commit");
            row.is_some()
        })
    })
}

/// `url` with its host and port replaced by 127.0.0.1 and `port`.
fn with_port(url: &str, port: u16) -> String {
    let (scheme_user, rest) = url.split_once('@').expect("a URL with credentials");
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("{scheme_user}@127.0.0.1:{port}{path}")
}

pub async fn by_key<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Postgres>,
    sql: &'static str,
    tenant: &Tenant,
    id: Uuid,
) -> bool {
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(tenant.id().as_uuid())
        .bind(id)
        .fetch_optional(conn)
        .await
        .expect("select");
    row.is_some()
}

/// Round trips per transaction of each case, counted by a proxy in front of
/// a fresh pool of the case: the pool's pings included.
pub async fn round_trips(data: &Data, cases: &[Case]) -> Vec<f64> {
    const TRANSACTIONS: u32 = 20;
    let upstream = upstream(data.db.app_url()).await;
    let mut out = Vec::new();
    for case in cases {
        let proxy = TcpProxy::start(upstream).await.expect("a proxy");
        let counted = Case::connect(case.kind, data.db.app_url(), Some(proxy.port())).await;
        // Warm: statements prepared, the first release done.
        assert!((counted.run)(data.key(0).0, data.key(0).1).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        proxy.reset();
        for i in 0..TRANSACTIONS {
            let (tenant, id) = data.key(i as usize);
            assert!(
                (counted.run)(tenant, id).await,
                "{}: the row was not found",
                case.kind.name()
            );
            // Let the release (its ping runs in a task of its own) finish,
            // as it does before the next checkout of a one-connection pool.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        out.push(proxy.round_trips() as f64 / f64::from(TRANSACTIONS));
    }
    out
}

async fn upstream(url: &str) -> std::net::SocketAddr {
    let options = PgConnectOptions::from_str(url).expect("a valid URL");
    let host = match options.get_host() {
        "localhost" => "127.0.0.1",
        host => host,
    };
    tokio::net::lookup_host((host, options.get_port()))
        .await
        .expect("the server's address")
        .next()
        .expect("an address")
}
