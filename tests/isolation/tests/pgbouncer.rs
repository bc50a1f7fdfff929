//! Why the SDK binds tenants per transaction: behind pgbouncer in
//! transaction mode, a session-level setting leaks to other clients; the
//! default transaction-local binding does not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use sqlx::{Connection, PgConnection};
use tenancy_core::Tenant;
use tenancy_isolation::fixture::{Orders, World};
use tenancy_sqlx::{Scoped, TenantPool};
use tenancy_testing::{APP_ROLE, PgBouncer, PgServer};
use uuid::Uuid;

async fn client(bouncer: &PgBouncer, world: &World) -> PgConnection {
    let options: sqlx::postgres::PgConnectOptions =
        bouncer.url(APP_ROLE, world.db.name()).parse().unwrap();
    PgConnection::connect_with(&options.statement_cache_capacity(0))
        .await
        .unwrap()
}

async fn seen_by(conn: &mut PgConnection) -> (Option<String>, i64) {
    sqlx::query_as("SELECT current_setting('app.tenant_id', true), (SELECT count(*) FROM orders)")
        .persistent(false)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The first tenant (acme) gets 3 rows, the second (globex), if any, 2.
async fn seed(world: &World, pool: &TenantPool) {
    for (tenant, rows) in world.tenants.iter().zip([3, 2]) {
        let mut tx = pool.begin(tenant).await.unwrap();
        for _ in 0..rows {
            Scoped::<Orders>::insert()
                .value("op", uuid::Uuid::new_v4())
                .for_tenant(tenant)
                .execute(&mut tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_session_level_set_leaks_to_the_next_client_but_the_default_does_not() {
    let world = World::new(2).unwrap();
    // ONE server connection: every client shares it, one transaction at a time.
    let bouncer = PgBouncer::start(PgServer::shared().unwrap(), 1).unwrap();
    let app = world
        .app_pool(&bouncer.url(APP_ROLE, world.db.name()), 4)
        .await
        .unwrap();
    // As behind any pgbouncer before 1.21: no named statements.
    let pool = TenantPool::new(app.clone()).unnamed_statements();
    seed(&world, &pool).await;
    let acme = &world.tenants[0];

    let mut a = client(&bouncer, &world).await;
    let mut b = client(&bouncer, &world).await;

    // The default: the tenant is bound per transaction. Afterwards another
    // client on the same server connection sees no tenant and no rows.
    let mut tx = pool.begin(acme).await.unwrap();
    assert_eq!(
        Scoped::<Orders>::select()
            .for_tenant(acme)
            .count(&mut tx)
            .await
            .unwrap(),
        3
    );
    tx.commit().await.unwrap();
    let (setting, rows) = seen_by(&mut b).await;
    assert!(setting.as_deref().unwrap_or("").is_empty(), "{setting:?}");
    assert_eq!(
        rows, 0,
        "after a tenant transaction, another client sees nothing"
    );
    // And the next tenant on that server connection sees only its own rows.
    assert_eq!(count_through(&pool, &world.tenants[1]).await.unwrap(), 2);
    assert_eq!(count_through(&pool, acme).await.unwrap(), 3);

    // What the SDK does not do: a session-level SET by client A ...
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET app.tenant_id = '{}'",
        acme.id()
    )))
    .execute(&mut a)
    .await
    .unwrap();
    // ... is on the server connection client B gets next: B now reads acme's rows.
    let (setting, rows) = seen_by(&mut b).await;
    assert_eq!(
        setting.as_deref(),
        Some(acme.id().to_string().as_str()),
        "the session setting leaked to B"
    );
    assert_eq!(rows, 3, "B, which never named a tenant, sees acme's rows");

    // The opt-in session mode has the same problem, which its docs say.
    sqlx::raw_sql("RESET ALL").execute(&mut b).await.unwrap();
    let mut session = pool.dangerous_session(acme).await.unwrap();
    let _ = sqlx::query("SELECT 1")
        .persistent(false)
        .execute(&mut session)
        .await
        .unwrap();
    let (_, rows) = seen_by(&mut b).await;
    assert_eq!(
        rows, 3,
        "behind transaction pooling even TenantSession leaks between its statements"
    );
    session.release().await.unwrap();
    sqlx::raw_sql("RESET ALL").execute(&mut b).await.unwrap();
    assert_eq!(seen_by(&mut b).await.1, 0);
}

/// The owners of the rows `tenant` reads through the Scoped builder, in a
/// transaction of `pool`.
async fn owners_through(pool: &TenantPool, tenant: &Tenant) -> tenancy_sqlx::Result<Vec<Uuid>> {
    let mut tx = pool.begin(tenant).await?;
    let owners: Vec<(Uuid,)> = Scoped::<Orders>::select()
        .columns(&["tenant_id"])
        .for_tenant(tenant)
        .fetch_all(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(owners.into_iter().map(|(o,)| o).collect())
}

/// `owners_through`, checked: exactly `rows` rows, all `tenant`'s.
async fn count_through(pool: &TenantPool, tenant: &Tenant) -> tenancy_sqlx::Result<usize> {
    let owners = owners_through(pool, tenant).await?;
    assert!(
        owners.iter().all(|o| o == tenant.id().as_uuid()),
        "a client saw another tenant's rows: {owners:?}"
    );
    Ok(owners.len())
}

#[tokio::test]
async fn unnamed_statements_survive_a_pooler_that_cannot_keep_named_ones() {
    let world = World::new(2).unwrap();
    let (acme, globex) = (&world.tenants[0], &world.tenants[1]);
    // ONE server connection, two clients (two pools of one connection each):
    // both clients' transactions, for two tenants in turn, run on the same
    // server connection.
    let bouncer = PgBouncer::start(PgServer::shared().unwrap(), 1).unwrap();
    let url = bouncer.url(APP_ROLE, world.db.name());
    let pool = |named: bool| {
        let world = &world;
        let url = url.clone();
        async move {
            let pool = TenantPool::new(world.app_pool(&url, 1).await.unwrap());
            if named {
                pool
            } else {
                pool.unnamed_statements()
            }
        }
    };
    let (a, b) = (pool(false).await, pool(false).await);
    seed(&world, &a).await;
    for round in 0..3 {
        for (client, pool, tenant, rows) in [
            ("a", &a, acme, 3),
            ("b", &b, globex, 2),
            ("a", &a, globex, 2),
            ("b", &b, acme, 3),
        ] {
            let n = count_through(pool, tenant).await;
            assert_eq!(
                n.map_err(|e| e.to_string()),
                Ok(rows),
                "unnamed statements, round {round}, client {client}"
            );
        }
    }

    // sqlx's default, named statements numbered per client connection: both
    // clients prepare `sqlx_s_1` on the one server connection. pgbouncer
    // before 1.21 does not track them, and the second client fails (closed:
    // an error, never another tenant's rows).
    let (a, b) = (pool(true).await, pool(true).await);
    assert_eq!(count_through(&a, acme).await.unwrap(), 3);
    let second = count_through(&b, globex).await;
    eprintln!("named statements, second client: {second:?}");
    match second {
        Err(e) => assert!(
            e.to_string().contains("prepared statement"),
            "a named statement collision, not: {e}"
        ),
        // pgbouncer 1.21+ with max_prepared_statements keeps named ones.
        Ok(n) => assert_eq!(n, 2),
    }
}
