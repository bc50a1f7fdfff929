//! A tenant moved between tiers while its traffic runs: shared tables →
//! its own schema → its own database on another server → back to shared
//! tables. Writers run all along; at the end every acknowledged write is
//! there exactly once, nothing else is, and the neighbour's rows are
//! untouched. Meanwhile a third server, holding another tenant, dies
//! (its line cut) and comes back: only its tenant notices. Real
//! PostgreSQL on three clusters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Orders, migration, tenant};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::{Placement, SchemaName, TargetName, Tenant, TenantStoreExt};
use tenancy_sqlx::moves::{MoveReport, TenantMover};
use tenancy_sqlx::routing::{PlacementRouter, RoutedPool};
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
use tenancy_sqlx::{Error, PgTenantStore, Scoped};
use tenancy_testing::proxy::TcpProxy;
use tenancy_testing::{APP_ROLE, PgServer, TestDatabase};

/// What the writers saw: acknowledged items, and writes refused because
/// the tenant was moving (asked to try again, never lost).
#[derive(Default)]
struct Traffic {
    acked: std::sync::Mutex<Vec<String>>,
    waited: AtomicU64,
    refused_read_only: AtomicU64,
}

/// One write as a request would do it: the tenant fresh from the store
/// (its status and placement as of now), a transaction where it lives.
async fn write(
    pool: &RoutedPool,
    store: &PgTenantStore,
    t: &Tenant,
    item: &str,
) -> Result<bool, Error> {
    let now = store.by_id(t.id()).await.unwrap().expect("the tenant");
    if now.is_moving() {
        // tenancy-tower answers 503 with Retry-After here: the client waits.
        return Ok(false);
    }
    let mut tx = pool.begin(&now).await?;
    Scoped::<Orders>::insert()
        .value("item", item)
        .for_tenant(&now)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

fn spawn_writer(
    pool: RoutedPool,
    store: PgTenantStore,
    t: Tenant,
    traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let item = format!("w{n:05}");
            match write(&pool, &store, &t, &item).await {
                Ok(true) => {
                    traffic.acked.lock().unwrap().push(item);
                    n += 1;
                }
                Ok(false) => {
                    traffic.waited.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(err) => panic!("a write failed instead of waiting: {err}"),
            }
        }
    })
}

/// Writes with whatever tenant it holds, never looking at the status:
/// while the tenant moves, the database refuses them (`READ ONLY`).
fn spawn_careless_writer(
    pool: RoutedPool,
    store: PgTenantStore,
    t: Tenant,
    traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let now = store.by_id(t.id()).await.unwrap().expect("the tenant");
            if now.is_moving() {
                let mut tx = pool.begin(&now).await.unwrap();
                let refused = Scoped::<Orders>::insert()
                    .value("item", "careless")
                    .for_tenant(&now)
                    .execute(&mut tx)
                    .await
                    .unwrap_err();
                assert!(
                    refused.to_string().contains("read-only"),
                    "a moving tenant's write must fail read-only: {refused}"
                );
                traffic.refused_read_only.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    })
}

/// The items of `t` where it lives now, through the SDK.
async fn items(pool: &RoutedPool, store: &PgTenantStore, t: &Tenant) -> Vec<String> {
    let now = store.by_id(t.id()).await.unwrap().expect("the tenant");
    let mut tx = pool.begin(&now).await.unwrap();
    let rows = sqlx::query_scalar("SELECT item FROM orders ORDER BY item")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    rows
}

/// Three servers: `main` (the tenant directory, shared tables, tenant
/// schemas), `own` (a database of its own for acme, on another server) and
/// `far` (a third server holding initech, reached through a line the test
/// can cut). Fields in drop order: databases before their servers.
struct World {
    pool: RoutedPool,
    store: PgTenantStore,
    mover: TenantMover<RoutedPool>,
    line: TcpProxy,
    main: TestDatabase,
    own: TestDatabase,
    far: TestDatabase,
    _servers: [PgServer; 2],
    acme: Tenant,
    globex: Tenant,
    initech: Tenant,
}

fn database_on(server: &PgServer) -> TestDatabase {
    let db = server.create_database().unwrap();
    db.owner_sql(&migration()).unwrap();
    db
}

async fn line_to(db: &TestDatabase) -> TcpProxy {
    let options: PgConnectOptions = db.app_url().parse().unwrap();
    let addr = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap();
    TcpProxy::start(addr).await.unwrap()
}

async fn world() -> World {
    let main = tenancy_testing::test_database();
    main.owner_sql(&migration()).unwrap();
    let servers = [
        PgServer::start().expect("a second PostgreSQL"),
        PgServer::start().expect("a third PostgreSQL"),
    ];
    let (own, far) = (database_on(&servers[0]), database_on(&servers[1]));
    let line = line_to(&far).await;

    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect(main.owner_url())
        .await
        .unwrap();
    let store = PgTenantStore::new(owner.clone());
    main.owner_sql(&format!(
        "{}GRANT SELECT ON tenancy_tenants TO {APP_ROLE};",
        store.create_table_sql()
    ))
    .unwrap();
    let provisioner = SchemaProvisioner::new(
        PgPoolOptions::new()
            .max_connections(2)
            .connect(main.provisioner_url())
            .await
            .unwrap(),
        Migrations::new().add(1, "orders", &migration()).unwrap(),
    )
    .grant_to(APP_ROLE)
    .unwrap();
    let target = |name: &str| TargetName::new(name).unwrap();
    let far_options: PgConnectOptions = far.app_url().parse().unwrap();
    let pool = RoutedPool::builder(PlacementRouter::new().with_default(target("main")))
        .target(target("main"), main.app_url().parse().unwrap())
        .target(target("own"), own.app_url().parse().unwrap())
        .target(
            target("far"),
            far_options.host("127.0.0.1").port(line.port()),
        )
        .pool_options(
            PgPoolOptions::new()
                .max_connections(6)
                .acquire_timeout(Duration::from_secs(2)),
        )
        .build();
    // The writers hold a tenant for a few milliseconds at most: the drain
    // stands for the tenant caches' time to live.
    let mover = TenantMover::new(store.clone(), pool.clone())
        .with_schemas(provisioner)
        .drain(Duration::from_millis(150));

    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let on_far = tenancy_core::TenantSettings::default()
        .with_placement(Placement::shared().with_target(target("far")));
    let initech = tenant("initech").to_builder().settings(on_far).build();
    for t in [&acme, &globex, &initech] {
        store.insert(t, None).await.unwrap();
    }
    World {
        pool,
        store,
        mover,
        line,
        main,
        own,
        far,
        _servers: servers,
        acme,
        globex,
        initech,
    }
}

/// The far server dies while acme moves (its line cut), and comes back.
async fn far_server_dies_and_comes_back(w: &World) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.line.sever();
    let err = write(&w.pool, &w.store, &w.initech, "lost")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Target { target, .. } if target.as_str() == "far"),
        "a dead server fails its tenant, naming it: {err}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.line.restore();
}

/// acme: shared → its own schema → its own database → shared.
async fn move_acme_through_every_tier(w: &World) -> Vec<MoveReport> {
    let schema = Placement::shared().with_schema(SchemaName::for_tenant(&w.acme.id()));
    let database = Placement::shared().with_target(TargetName::new("own").unwrap());
    let mut reports = Vec::new();
    for to in [schema, database, Placement::shared()] {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = w.store.by_id(w.acme.id()).await.unwrap().unwrap();
        let report = w.mover.move_to(&before, to.clone()).await.unwrap();
        let after = w.store.by_id(w.acme.id()).await.unwrap().unwrap();
        assert_eq!(
            after.placement(),
            &to,
            "the store records the new placement"
        );
        assert!(after.is_active(), "writable again after the move");
        assert_eq!(report.tables.len(), 1, "{report:?}");
        assert!(report.rows() > 0);
        reports.push(report);
    }
    reports
}

/// Every acknowledged write of acme is where acme lives, exactly once, and
/// nothing else is.
async fn nothing_lost_nothing_doubled(w: &World, traffic: &Traffic) {
    let acked: Vec<String> = traffic.acked.lock().unwrap().clone();
    let now = items(&w.pool, &w.store, &w.acme).await;
    let unique: BTreeSet<&String> = now.iter().collect();
    assert_eq!(unique.len(), now.len(), "no write is there twice");
    let acked_set: BTreeSet<&String> = acked.iter().collect();
    let lost: Vec<_> = acked_set.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&acked_set).collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(extra.is_empty(), "rows nobody acknowledged: {extra:?}");
    assert!(
        acked.len() > 20,
        "the writer wrote all along: {}",
        acked.len()
    );
    assert!(
        traffic.waited.load(Ordering::SeqCst) > 0,
        "writes were asked to wait during the moves"
    );
    assert!(
        traffic.refused_read_only.load(Ordering::SeqCst) > 0,
        "a write with a moving tenant reached the database and was refused"
    );
    // Nothing of acme is left at the old places.
    let schema = SchemaName::for_tenant(&w.acme.id());
    let in_schema = format!(
        "SELECT count(*) FROM pg_namespace WHERE nspname = '{}'",
        schema.as_str()
    );
    assert_eq!(
        w.main.admin_sql(&in_schema).unwrap(),
        "0",
        "the schema is dropped"
    );
    let acme_rows = format!(
        "SELECT count(*) FROM orders WHERE tenant_id = '{}'",
        w.acme.id()
    );
    assert_eq!(
        w.own.admin_sql(&acme_rows).unwrap(),
        "0",
        "the own database is emptied"
    );
    assert_eq!(
        w.main.admin_sql(&acme_rows).unwrap(),
        acked.len().to_string(),
        "all of acme back in the shared tables"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_moves_through_every_tier_while_it_writes_and_nothing_is_lost() {
    let w = world().await;
    assert!(write(&w.pool, &w.store, &w.initech, "i0").await.unwrap());
    for i in 0..20 {
        let item = format!("g{i:02}");
        assert!(write(&w.pool, &w.store, &w.globex, &item).await.unwrap());
    }
    let neighbour = || {
        w.main
            .admin_sql(&format!(
                "SELECT count(*) || ':' || md5(string_agg(o::text, ',' ORDER BY o::text)) \
                 FROM orders o WHERE tenant_id = '{}' AND item LIKE 'g%'",
                w.globex.id()
            ))
            .unwrap()
    };
    let neighbour_before = neighbour();

    let traffic = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (pool, store) = (&w.pool, &w.store);
    let writers = [
        spawn_writer(
            pool.clone(),
            store.clone(),
            w.acme.clone(),
            traffic.clone(),
            stop.clone(),
        ),
        spawn_writer(
            pool.clone(),
            store.clone(),
            w.globex.clone(),
            Arc::new(Traffic::default()),
            stop.clone(),
        ),
        spawn_careless_writer(
            pool.clone(),
            store.clone(),
            w.acme.clone(),
            traffic.clone(),
            stop.clone(),
        ),
    ];
    tokio::join!(
        move_acme_through_every_tier(&w),
        far_server_dies_and_comes_back(&w)
    );
    // The far server is back: its tenant is served again, nothing lost.
    assert!(write(&w.pool, &w.store, &w.initech, "i1").await.unwrap());
    assert_eq!(
        w.far
            .admin_sql("SELECT string_agg(item, ',' ORDER BY item) FROM orders")
            .unwrap(),
        "i0,i1"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }

    nothing_lost_nothing_doubled(&w, &traffic).await;
    // The neighbour kept writing (its own writer), and what it had is intact.
    assert!(items(&w.pool, &w.store, &w.globex).await.len() > 20);
    assert_eq!(
        neighbour(),
        neighbour_before,
        "the neighbour's rows from before are untouched"
    );
    w.pool.close().await;
}

/// Two tenant tables, in the shared tables and in every tenant schema.
fn two_tables() -> String {
    format!(
        "{}{}",
        migration(),
        tenancy_testing::fixtures::tenant_table_sql("notes", "body text NOT NULL")
    )
}

/// One database: shared tables (`orders`, `notes`, and a `legacy` table
/// that tenant schemas do not have) and tenant schemas, a `TenantPool`.
async fn one_database() -> (
    TestDatabase,
    PgTenantStore,
    TenantMover<tenancy_sqlx::TenantPool>,
    SchemaProvisioner,
) {
    let db = tenancy_testing::test_database();
    db.owner_sql(&two_tables()).unwrap();
    db.owner_sql(&tenancy_testing::fixtures::tenant_table_sql(
        "legacy", "x int",
    ))
    .unwrap();
    let owner = PgPoolOptions::new().connect(db.owner_url()).await.unwrap();
    let store = PgTenantStore::new(owner);
    db.owner_sql(&format!(
        "{}GRANT SELECT ON tenancy_tenants TO {APP_ROLE};",
        store.create_table_sql()
    ))
    .unwrap();
    let provisioner = SchemaProvisioner::new(
        PgPoolOptions::new()
            .connect(db.provisioner_url())
            .await
            .unwrap(),
        Migrations::new()
            .add(1, "orders and notes", &two_tables())
            .unwrap(),
    )
    .grant_to(APP_ROLE)
    .unwrap();
    let pool =
        tenancy_sqlx::TenantPool::new(PgPoolOptions::new().connect(db.app_url()).await.unwrap());
    let mover = TenantMover::new(store.clone(), pool).with_schemas(provisioner.clone());
    (db, store, mover, provisioner)
}

#[tokio::test]
async fn a_move_keeps_the_status_it_found_and_refuses_what_it_cannot_do() {
    use tenancy_core::TenantStatus;
    let (db, store, mover, _) = one_database().await;
    let suspended = tenant("initech")
        .to_builder()
        .status(TenantStatus::Suspended)
        .build();
    store.insert(&suspended, None).await.unwrap();
    db.admin_sql(&format!(
        "INSERT INTO orders (tenant_id, item) VALUES ('{0}', 'Stapler'), ('{0}', 'Printer');
         INSERT INTO notes (tenant_id, body) VALUES ('{0}', 'closed on Fridays');
         INSERT INTO orders (tenant_id, item) SELECT '{0}', 'bulk' FROM generate_series(1, 1200);",
        suspended.id()
    ))
    .unwrap();
    let schema = Placement::shared().with_schema(SchemaName::for_tenant(&suspended.id()));

    // A suspended tenant moves, and stays suspended.
    let report = mover.move_to(&suspended, schema.clone()).await.unwrap();
    assert_eq!(report.rows(), 1203, "in batches of 500: three for orders");
    let mut tables: Vec<(&str, u64)> = report
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows))
        .collect();
    tables.sort_unstable();
    assert_eq!(tables, [("notes", 1), ("orders", 1202)]);
    let s = schema.schema().unwrap().sql();
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT (SELECT string_agg(item, ',' ORDER BY item) FROM {s}.orders WHERE item <> 'bulk') || '|' || \
             (SELECT string_agg(body, ',') FROM {s}.notes)"
        ))
        .unwrap(),
        "Printer,Stapler|closed on Fridays"
    );
    assert_eq!(report.attempts, 1, "nothing wrote during the copy");
    let now = store.by_id(suspended.id()).await.unwrap().unwrap();
    assert_eq!(
        now.status(),
        TenantStatus::Suspended,
        "not woken up by the move"
    );
    assert_eq!(now.placement(), &schema);

    // The tenant as read before the move is stale: refused, nothing changes.
    let stale = mover
        .move_to(&suspended, Placement::shared())
        .await
        .unwrap_err();
    assert!(
        matches!(stale, Error::Move(why) if why.contains("placement changed")),
        "{stale}"
    );
    // Where it already is: refused.
    let here = mover.move_to(&now, schema.clone()).await.unwrap_err();
    assert!(
        matches!(here, Error::Move(why) if why.contains("already there")),
        "{here}"
    );
    // To the sealed tier: refused (unseal, move, seal).
    let sealed = mover.move_to(&now, Placement::sealed()).await.unwrap_err();
    assert!(
        matches!(sealed, Error::Move(why) if why.contains("sealed")),
        "{sealed}"
    );
    // Another move running: refused, and its status is left alone.
    store
        .set_status(now.id_ref(), TenantStatus::Moving)
        .await
        .unwrap();
    let moving = store.by_id(now.id()).await.unwrap().unwrap();
    let busy = mover
        .move_to(&moving, Placement::shared())
        .await
        .unwrap_err();
    assert!(
        matches!(busy, Error::Move(why) if why.contains("being moved already")),
        "{busy}"
    );
    assert!(store.by_id(now.id()).await.unwrap().unwrap().is_moving());
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT count(*) FROM {}.orders",
            schema.schema().unwrap().sql()
        ))
        .unwrap(),
        "1202",
        "the refused moves touched no row"
    );
}

#[tokio::test]
async fn rows_without_a_twin_table_or_already_at_the_destination_stop_the_move() {
    let (db, store, mover, provisioner) = one_database().await;
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    for t in [&acme, &globex] {
        store.insert(t, None).await.unwrap();
        db.admin_sql(&format!(
            "INSERT INTO orders (tenant_id, item) VALUES ('{}', 'Burger')",
            t.id()
        ))
        .unwrap();
    }
    // acme has a row in `legacy`, which tenant schemas do not have.
    db.admin_sql(&format!(
        "INSERT INTO legacy (tenant_id, x) VALUES ('{}', 1)",
        acme.id()
    ))
    .unwrap();
    let to = |t: &Tenant| Placement::shared().with_schema(SchemaName::for_tenant(&t.id()));
    let err = mover.move_to(&acme, to(&acme)).await.unwrap_err();
    assert!(
        matches!(err, Error::Move(why) if why.contains("no twin")),
        "{err}"
    );

    // globex's schema already holds a row of globex (a failed earlier move).
    let schema = to(&globex);
    provisioner
        .provision(schema.schema().unwrap())
        .await
        .unwrap();
    db.admin_sql(&format!(
        "INSERT INTO {s}.orders (tenant_id, item) VALUES ('{id}', 'Left over')",
        s = schema.schema().unwrap().sql(),
        id = globex.id()
    ))
    .unwrap();
    let err = mover.move_to(&globex, schema).await.unwrap_err();
    assert!(
        matches!(err, Error::Move(why) if why.contains("already holds rows")),
        "{err}"
    );

    // Both stay where they were, active, with their rows.
    for t in [&acme, &globex] {
        let now = store.by_id(t.id()).await.unwrap().unwrap();
        assert!(now.placement().is_shared() && now.is_active(), "{now:?}");
    }
    assert_eq!(
        db.admin_sql("SELECT count(*) FROM public.orders").unwrap(),
        "2"
    );
}

#[tokio::test]
async fn a_writer_that_ignores_the_freeze_fails_the_move_and_loses_nothing() {
    let (db, store, mover, _) = one_database().await;
    let acme = tenant("acme");
    store.insert(&acme, None).await.unwrap();
    db.admin_sql(&format!(
        "INSERT INTO orders (tenant_id, item) VALUES ('{0}', 'Burger'), ('{0}', 'Fries');
         INSERT INTO orders (tenant_id, item) SELECT '{0}', 'bulk' FROM generate_series(1, 2000);",
        acme.id()
    ))
    .unwrap();
    // It holds acme as read before the move (active, shared) and keeps
    // changing one row in place, many times during each copy of the 2002
    // rows: the row count never changes, the rows do.
    let pool =
        tenancy_sqlx::TenantPool::new(PgPoolOptions::new().connect(db.app_url()).await.unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(AtomicU64::new(0));
    let writer = {
        let (acme, stop, updates) = (acme.clone(), stop.clone(), updates.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let mut tx = pool.begin(&acme).await.unwrap();
                sqlx::query("UPDATE orders SET quantity = quantity + 1 WHERE item = 'Burger'")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                updates.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    while updates.load(Ordering::SeqCst) < 5 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let schema = Placement::shared().with_schema(SchemaName::for_tenant(&acme.id()));
    let err = mover.move_to(&acme, schema.clone()).await.unwrap_err();
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    assert!(
        matches!(err, Error::Move(why) if why.contains("kept changing")),
        "{err}"
    );

    let now = store.by_id(acme.id()).await.unwrap().unwrap();
    assert!(now.placement().is_shared() && now.is_active(), "{now:?}");
    // Every update is in the source; the destination holds nothing.
    let n = updates.load(Ordering::SeqCst);
    assert_eq!(
        db.admin_sql("SELECT sum(quantity) FROM public.orders")
            .unwrap(),
        (2002 + n).to_string()
    );
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT count(*) FROM {}.orders",
            schema.schema().unwrap().sql()
        ))
        .unwrap(),
        "0"
    );
}

#[tokio::test]
async fn an_old_copy_that_cannot_be_deleted_is_reported_and_a_schema_needs_a_provisioner_up_front()
{
    let (db, store, mover, schemas) = one_database().await;
    // An append-only table, as an activity trail: the app may not delete.
    let trail = tenancy_testing::fixtures::tenant_table_sql("trail", "note text NOT NULL");
    db.owner_sql(&format!("{trail}REVOKE DELETE ON trail FROM {APP_ROLE};"))
        .unwrap();
    let acme = tenant("acme");
    store.insert(&acme, None).await.unwrap();
    db.admin_sql(&format!(
        "INSERT INTO orders (tenant_id, item) VALUES ('{0}', 'Burger');
         INSERT INTO trail (tenant_id, note) VALUES ('{0}', 'opened');",
        acme.id()
    ))
    .unwrap();
    let to = Placement::shared().with_schema(SchemaName::for_tenant(&acme.id()));
    let schema = to.schema().unwrap();
    schemas.provision(schema).await.unwrap();
    db.admin_sql(&format!(
        "SET search_path = {s}; {trail} GRANT ALL ON {s}.trail TO {s};",
        s = schema.sql()
    ))
    .unwrap();

    // The move happens; the old copy stays, and the report says why.
    let report = mover.move_to(&acme, to.clone()).await.unwrap();
    assert_eq!(report.rows(), 2);
    let left = report
        .old_copy_left
        .expect("the old copy could not be deleted");
    assert!(left.contains("permission denied"), "{left}");
    let after = store.by_id(acme.id()).await.unwrap().unwrap();
    assert_eq!(after.placement(), &to);
    assert!(after.is_active());
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT (SELECT count(*) FROM {s}.orders) + (SELECT count(*) FROM {s}.trail)",
            s = schema.sql()
        ))
        .unwrap(),
        "2"
    );
    assert_eq!(
        db.admin_sql("SELECT count(*) FROM public.trail").unwrap(),
        "1",
        "the old copy is left, whole"
    );

    // Out of a schema without a provisioner: refused before anything moves.
    let pool =
        tenancy_sqlx::TenantPool::new(PgPoolOptions::new().connect(db.app_url()).await.unwrap());
    let without = TenantMover::new(store.clone(), pool);
    let err = without
        .move_to(&after, Placement::shared())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let still = store.by_id(acme.id()).await.unwrap().unwrap();
    assert_eq!(still.placement(), &to);
    assert!(still.is_active(), "never frozen");
}
