//! Tenants spread over several real PostgreSQL servers: each lands on its
//! shard, a moved tenant is served from its new shard, a dead shard fails
//! only its tenants, and the caps on pools and per-tenant connections hold.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::time::Duration;

use common::{Orders, migration, tenant};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::{TargetName, Tenant};
use tenancy_sqlx::routing::{RoutedPool, StaticRouter};
use tenancy_sqlx::{Error, Scoped};
use tenancy_testing::{PgServer, TestDatabase};

struct Shard {
    name: TargetName,
    db: TestDatabase,
    // Declared last: the database is dropped before its server stops.
    server: PgServer,
}

fn shard(name: &str) -> Shard {
    let server = PgServer::start().expect("a throwaway PostgreSQL for a shard");
    let db = server.create_database().unwrap();
    db.owner_sql(&migration()).unwrap();
    Shard {
        name: TargetName::new(name).unwrap(),
        db,
        server,
    }
}

fn options(shard: &Shard) -> PgConnectOptions {
    shard.db.app_url().parse().unwrap()
}

async fn insert(pool: &RoutedPool, t: &Tenant, item: &str) -> Result<(), Error> {
    let mut tx = pool.begin(t).await?;
    Scoped::<Orders>::insert()
        .value("item", item)
        .for_tenant(t)
        .execute(&mut tx)
        .await?;
    tx.commit().await
}

async fn items(pool: &RoutedPool, t: &Tenant) -> Result<Vec<String>, Error> {
    let mut tx = pool.begin(t).await?;
    let rows = sqlx::query_scalar("SELECT item FROM orders ORDER BY item")
        .fetch_all(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// Rows in `shard`, counted by the administrator (no RLS, no SDK).
fn rows_on(shard: &Shard) -> String {
    shard
        .db
        .admin_sql("SELECT coalesce(string_agg(item, ',' ORDER BY item), '') FROM orders")
        .unwrap()
}

#[tokio::test]
async fn tenants_land_on_their_shard_move_and_survive_a_dead_neighbour() {
    let (a, b) = (shard("shard-a"), shard("shard-b"));
    let (acme, globex, initech) = (tenant("acme"), tenant("globex"), tenant("initech"));
    let router = std::sync::Arc::new(StaticRouter::new([
        (acme.id(), a.name.clone()),
        (initech.id(), a.name.clone()),
        (globex.id(), b.name.clone()),
    ]));
    let pool = RoutedPool::builder(router.clone())
        .target(a.name.clone(), options(&a))
        .target(b.name.clone(), options(&b))
        .pool_options(
            PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(2)),
        )
        .build();
    assert!(pool.open_targets().is_empty(), "pools open lazily");

    insert(&pool, &acme, "Burger").await.unwrap();
    insert(&pool, &initech, "Stapler").await.unwrap();
    insert(&pool, &globex, "Taco").await.unwrap();
    assert_eq!(rows_on(&a), "Burger,Stapler");
    assert_eq!(rows_on(&b), "Taco");
    // RLS holds on every shard: initech shares shard a with acme.
    assert_eq!(items(&pool, &acme).await.unwrap(), ["Burger"]);
    assert_eq!(pool.open_targets(), [a.name.clone(), b.name.clone()]);
    // Statements are named (prepared once per connection) unless the pool
    // is told that a proxy in front of the shards cannot keep them.
    let tx = pool.begin(&acme).await.unwrap();
    assert!(tx.named_statements());
    tx.rollback().await.unwrap();

    // Move acme: copy its rows to shard b (through a tenant transaction on
    // b, so RLS checks the copy), then flip the directory entry.
    let on_b =
        tenancy_sqlx::TenantPool::new(PgPoolOptions::new().connect(b.db.app_url()).await.unwrap());
    let mut copy = on_b.begin(&acme).await.unwrap();
    for item in items(&pool, &acme).await.unwrap() {
        Scoped::<Orders>::insert()
            .value("item", item.as_str())
            .for_tenant(&acme)
            .execute(&mut copy)
            .await
            .unwrap();
    }
    copy.commit().await.unwrap();
    on_b.close().await;
    assert_eq!(
        router.assign(acme.id(), b.name.clone()),
        Some(a.name.clone())
    );
    insert(&pool, &acme, "Fries").await.unwrap();
    assert_eq!(items(&pool, &acme).await.unwrap(), ["Burger", "Fries"]);
    assert_eq!(rows_on(&b), "Burger,Fries,Taco");

    // Shard a dies: its tenant fails with an error naming the shard; the
    // tenants on shard b go on.
    let Shard {
        name: a_name,
        db: a_db,
        server: a_server,
    } = a;
    drop(a_db);
    drop(a_server);
    let err = items(&pool, &initech).await.unwrap_err();
    assert!(
        matches!(&err, Error::Target { target, .. } if target == &a_name),
        "{err}"
    );
    assert!(
        err.to_string().contains("connection target shard-a failed"),
        "{err}"
    );
    assert_eq!(items(&pool, &acme).await.unwrap(), ["Burger", "Fries"]);
    assert_eq!(items(&pool, &globex).await.unwrap(), ["Taco"]);

    // A tenant the directory does not know is not served anywhere.
    let stranger = tenant("stranger");
    let err = pool.begin(&stranger).await.unwrap_err();
    assert!(
        matches!(&err, Error::NoTarget { tenant } if *tenant == stranger.id().to_string()),
        "{err}"
    );
    pool.close().await;
}

#[tokio::test]
async fn one_tenant_cannot_take_its_neighbours_connections_and_idle_pools_are_evicted() {
    let (a, b) = (shard("shard-a"), shard("shard-b"));
    let (acme, globex, initech) = (tenant("acme"), tenant("globex"), tenant("initech"));
    let router = StaticRouter::new([
        (acme.id(), a.name.clone()),
        (globex.id(), a.name.clone()),
        (initech.id(), b.name.clone()),
    ]);
    let pool = RoutedPool::builder(router)
        .target(a.name.clone(), options(&a))
        .target(b.name.clone(), options(&b))
        .pool_options(PgPoolOptions::new().max_connections(3))
        .max_connections_per_tenant_waiting(2, Duration::from_millis(200))
        .max_open_pools(1)
        .unnamed_statements()
        .build();

    // acme holds its two connections; a third waits, then is refused.
    let first = pool.begin(&acme).await.unwrap();
    assert!(!first.named_statements());
    let second = pool.begin(&acme).await.unwrap();
    let err = pool.begin(&acme).await.unwrap_err();
    assert!(
        matches!(&err, Error::TenantBusy { tenant, max: 2 } if *tenant == acme.id().to_string()),
        "{err}"
    );
    // Its neighbour on the same shard is served.
    assert_eq!(items(&pool, &globex).await.unwrap(), Vec::<String>::new());
    // Only one pool may be open, and shard a's is busy: no room for b.
    let err = pool.begin(&initech).await.unwrap_err();
    assert!(matches!(err, Error::TooManyPools { max: 1 }), "{err}");
    // Releasing acme's transactions frees its slots and shard a's pool.
    drop(first);
    second.commit().await.unwrap();
    let again = pool.begin(&acme).await.unwrap();
    drop(again);
    // Once a's connections are idle, its pool makes room for b's.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut opened = false;
    for _ in 0..50 {
        match pool.begin(&initech).await {
            Ok(tx) => {
                tx.commit().await.unwrap();
                opened = true;
                break;
            }
            // The dropped transaction's ROLLBACK may still be on its way.
            Err(Error::TooManyPools { .. }) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(opened, "the idle pool of shard a was never evicted");
    assert_eq!(pool.open_targets(), std::slice::from_ref(&b.name));
    pool.close().await;
}

#[tokio::test]
async fn a_routed_tenant_is_exported_and_deleted_on_its_own_shard() {
    use tenancy_sqlx::PgTenantStore;
    use tenancy_sqlx::lifecycle::TenantLifecycle;

    let (a, b) = (shard("shard-a"), shard("shard-b"));
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let router = StaticRouter::new([(acme.id(), a.name.clone()), (globex.id(), b.name.clone())]);
    let pool = RoutedPool::builder(router)
        .target(a.name.clone(), options(&a))
        .target(b.name.clone(), options(&b))
        .build();
    insert(&pool, &acme, "Burger").await.unwrap();
    insert(&pool, &acme, "Fries").await.unwrap();
    insert(&pool, &globex, "Taco").await.unwrap();
    // The directory lives on its own server (here: shard b's, as the owner).
    let directory = PgPoolOptions::new()
        .connect(b.db.owner_url())
        .await
        .unwrap();
    let store = PgTenantStore::new(directory.clone());
    sqlx::raw_sql(sqlx::AssertSqlSafe(store.create_table_sql()))
        .execute(&directory)
        .await
        .unwrap();
    let lifecycle = TenantLifecycle::new(store, pool.clone());
    lifecycle.create(&acme, None).await.unwrap();

    let mut out = Vec::new();
    let counts = lifecycle.export(&acme, &mut out).await.unwrap();
    assert_eq!(counts, [("public.orders".to_owned(), 2)]);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    let plan = lifecycle.delete(&acme, true).await.unwrap();
    assert_eq!((plan.dry_run, plan.rows()), (true, 2));
    assert_eq!(rows_on(&a), "Burger,Fries");
    let done = lifecycle.delete(&acme, false).await.unwrap();
    assert_eq!((done.dry_run, done.rows()), (false, 2));
    assert_eq!(rows_on(&a), "");
    assert_eq!(rows_on(&b), "Taco");
    pool.close().await;
}

/// A transaction that was waiting for a connection when the routed pool was
/// closed gets one from a fresh pool of its target, not a `PoolClosed`
/// error: closing makes pools reopen lazily, as eviction does.
#[tokio::test]
async fn a_begin_waiting_while_the_pools_close_gets_a_fresh_pool() {
    let a = shard("shard-a");
    let acme = tenant("acme");
    let pool = RoutedPool::builder(StaticRouter::new([(acme.id(), a.name.clone())]))
        .target(a.name.clone(), options(&a))
        .pool_options(PgPoolOptions::new().max_connections(1))
        .build();
    // The only connection is taken; the next begin waits for it.
    let holder = pool.begin(&acme).await.unwrap();
    let waiting = tokio::spawn({
        let (pool, acme) = (pool.clone(), acme.clone());
        async move { pool.begin(&acme).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the second begin should wait");
    let closing = tokio::spawn({
        let pool = pool.clone();
        async move { pool.close().await }
    });
    let tx = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting begin is answered")
        .unwrap()
        .unwrap();
    assert_eq!(items_in(tx).await, Vec::<String>::new());
    drop(holder);
    closing.await.unwrap();
    pool.close().await;
}

async fn items_in(mut tx: tenancy_sqlx::TenantTx) -> Vec<String> {
    let rows = sqlx::query_scalar("SELECT item FROM orders")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

#[tokio::test]
async fn a_metered_routed_pool_reports_the_transactions_of_every_target() {
    let (a, b) = (shard("shard-a"), shard("shard-b"));
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let meter = tenancy_sqlx::TxMeter::new(move |r: &tenancy_sqlx::TxReport<'_>| {
        log.lock()
            .unwrap()
            .push((r.tenant.slug().to_string(), r.rows_written));
    })
    .rows_written_in(["orders"])
    .unwrap();
    let pool = RoutedPool::builder(StaticRouter::new([
        (acme.id(), a.name.clone()),
        (globex.id(), b.name.clone()),
    ]))
    .target(a.name.clone(), options(&a))
    .target(b.name.clone(), options(&b))
    .metered(meter)
    .build();
    insert(&pool, &acme, "Burger").await.unwrap();
    insert(&pool, &globex, "Taco").await.unwrap();
    assert_eq!(items(&pool, &globex).await.unwrap(), ["Taco"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("acme".to_owned(), Some(1)),
            ("globex".to_owned(), Some(1)),
            ("globex".to_owned(), Some(0)),
        ]
    );
}
