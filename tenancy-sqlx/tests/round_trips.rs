//! Round trips per tenant transaction, counted on the wire by a TCP relay
//! between the pool and PostgreSQL: the tenant costs none of its own.
//!
//! A one-query transaction is `BEGIN; SET LOCAL ...` (one message), the
//! query, `COMMIT`: 3 round trips, as many as a plain sqlx transaction
//! without a tenant. sqlx's pool adds its pings: one when it hands out an
//! idle connection (`test_before_acquire`, on by default) and one when the
//! connection comes back (always; it flushes a queued `ROLLBACK`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_sqlx::TenantPool;
use tenancy_testing::proxy::TcpProxy;

const BY_ITEM: &str = "SELECT count(*) FROM orders WHERE item = $1";

/// A one-connection pool through `proxy`, warmed up: connected, the
/// statement prepared, the first release done, the count at zero.
async fn pool_through(proxy: &TcpProxy, options: PgPoolOptions, url: &str) -> PgPool {
    let connect = PgConnectOptions::from_str(url)
        .unwrap()
        .host("127.0.0.1")
        .port(proxy.port());
    let raw = options
        .max_connections(1)
        .connect_with(connect)
        .await
        .unwrap();
    let tenant = common::tenant("warm");
    one_tenant_tx(&TenantPool::new(raw.clone()), &tenant).await;
    released(&raw).await;
    proxy.reset();
    raw
}

async fn one_tenant_tx(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> i64 {
    let mut tx = pool.begin(tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar(BY_ITEM)
        .bind("Burger")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

/// Waits until the pool's one connection is idle again: the release (with
/// its ping) runs in a task of its own after the transaction ends.
async fn released(raw: &PgPool) {
    for _ in 0..500 {
        if raw.num_idle() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the connection never came back to the pool");
}

async fn upstream(db: &tenancy_testing::TestDatabase) -> std::net::SocketAddr {
    let options = PgConnectOptions::from_str(db.app_url()).unwrap();
    let host = match options.get_host() {
        "localhost" => "127.0.0.1",
        host => host,
    };
    tokio::net::lookup_host((host, options.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_transaction_is_as_many_round_trips_as_a_plain_one() {
    let f = common::fixture(1).await;
    let proxy = TcpProxy::start(upstream(&f.db).await).await.unwrap();
    let raw = pool_through(&proxy, PgPoolOptions::new(), f.db.app_url()).await;
    let pool = TenantPool::new(raw.clone());

    assert_eq!(one_tenant_tx(&pool, &f.acme).await, 1, "acme's own burger");
    released(&raw).await;
    let tenant_tx = proxy.round_trips();

    proxy.reset();
    let mut tx = raw.begin().await.unwrap();
    let n: i64 = sqlx::query_scalar(BY_ITEM)
        .bind("Burger")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    released(&raw).await;
    assert_eq!(n, 0, "without a tenant, RLS shows no row");
    let plain_tx = proxy.round_trips();

    assert_eq!(
        tenant_tx, 5,
        "acquire ping, BEGIN with the tenant, query, COMMIT, release ping"
    );
    assert_eq!(tenant_tx, plain_tx, "the tenant adds no round trip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_acquire_ping_a_tenant_transaction_is_four_round_trips() {
    let f = common::fixture(1).await;
    let proxy = TcpProxy::start(upstream(&f.db).await).await.unwrap();
    let options = PgPoolOptions::new().test_before_acquire(false);
    let raw = pool_through(&proxy, options, f.db.app_url()).await;
    let pool = TenantPool::new(raw.clone());

    assert_eq!(
        one_tenant_tx(&pool, &f.globex).await,
        0,
        "globex has no burger"
    );
    assert_eq!(one_tenant_tx(&pool, &f.acme).await, 1, "acme's own burger");
    released(&raw).await;
    assert_eq!(
        proxy.round_trips(),
        8,
        "two transactions: BEGIN with the tenant, query, COMMIT, release ping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_severed_line_fails_the_transaction_until_it_is_back() {
    let f = common::fixture(1).await;
    let proxy = TcpProxy::start(upstream(&f.db).await).await.unwrap();
    let options = PgPoolOptions::new()
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(2));
    let raw = pool_through(&proxy, options, f.db.app_url()).await;
    let pool = TenantPool::new(raw.clone());

    proxy.sever();
    assert!(
        pool.begin(&f.acme).await.is_err(),
        "a transaction on a dead line must fail, not run elsewhere"
    );
    proxy.restore();
    assert_eq!(
        one_tenant_tx(&pool, &f.acme).await,
        1,
        "a fresh connection after the line is back"
    );
}
