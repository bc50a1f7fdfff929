//! tenancy-diesel's diesel-async side on a real PostgreSQL, as the app role.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use diesel::prelude::*;

mod common;
use common::{SEED, SessionState, database, fresh_session, orders, session_state_sql, tenant};
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tenancy_core::rls::{TenantPolicy, TxOptions};
use tenancy_core::{Tenant, TenantId};
use tenancy_diesel::{AsyncTenantPool, Error, ForTenantDsl};
use tenancy_testing::TestDatabase;
use tenancy_testing::cancel::{PollBudget, poll_at_most};
use uuid::Uuid;

struct Fixture {
    db: TestDatabase,
    raw: Pool<AsyncPgConnection>,
    pool: AsyncTenantPool,
    acme: Tenant,
    globex: Tenant,
}

async fn fixture() -> Fixture {
    let db = database();
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(db.app_url());
    let raw = Pool::builder(manager).max_size(1).build().unwrap();
    let pool = AsyncTenantPool::new(raw.clone());
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    for (t, items) in [(&acme, SEED[0]), (&globex, SEED[1])] {
        let mut tx = pool.begin(t).await.unwrap();
        for item in items {
            tx.insert(diesel::insert_into(orders::table).values(orders::item.eq(*item)))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    Fixture {
        db,
        raw,
        pool,
        acme,
        globex,
    }
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Nullable<Text>)]
    setting: Option<String>,
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

/// No app-role backend is inside a transaction, and a pooled connection
/// carries no tenant and sees no rows.
async fn assert_clean(f: &Fixture) {
    // A dropped transaction's connection is closed from tokio-postgres'
    // background task; the server notices a moment later. Wait (bounded).
    let query = format!(
        "SELECT coalesce(string_agg(state, ','), '') FROM pg_stat_activity
         WHERE usename = 'tenancy_app' AND datname = '{}' AND state LIKE '%transaction%'",
        f.db.name()
    );
    let mut states = f.db.admin_sql(&query).unwrap();
    for _ in 0..100 {
        if states.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        states = f.db.admin_sql(&query).unwrap();
    }
    assert_eq!(states, "", "app connections left inside a transaction");
    let mut conn = f.raw.get().await.unwrap();
    let setting: Setting =
        diesel::sql_query("SELECT current_setting('app.tenant_id', true) AS setting")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert!(
        setting.setting.as_deref().unwrap_or("").is_empty(),
        "{:?}",
        setting.setting
    );
    let visible: i64 = orders::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(visible, 0);
}

#[tokio::test]
async fn isolation_via_builder_and_sql_query_and_with_check() {
    let f = fixture().await;
    for (t, want) in [(&f.acme, 3), (&f.globex, 2)] {
        let mut tx = f.pool.begin(t).await.unwrap();
        let built: Vec<Uuid> = tx
            .fetch_all(orders::table.for_tenant(t).select(orders::tenant_id))
            .await
            .unwrap();
        let raw: Vec<Owner> = diesel::sql_query("SELECT tenant_id FROM orders")
            .load(tx.dangerous_raw_connection().unwrap())
            .await
            .unwrap();
        assert_eq!((built.len(), raw.len()), (want, want));
        assert!(raw.iter().all(|o| o.tenant_id == *t.id().as_uuid()));
        tx.commit().await.unwrap();
    }
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let changed = tx
        .execute_scoped(
            diesel::update(orders::table)
                .set(orders::quantity.eq(9))
                .for_tenant(&f.acme)
                .filter(orders::item.eq("Taco")),
        )
        .await
        .unwrap();
    assert_eq!(changed, 0, "globex's Taco is out of reach");
    let globex = *f.globex.id().as_uuid();
    let stolen = move || {
        diesel::insert_into(orders::table)
            .values((orders::tenant_id.eq(globex), orders::item.eq("Stolen")))
    };
    // The SDK refuses a write that names the tenant column ...
    let err = tx.insert(stolen()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TenantColumn {
                column: "tenant_id"
            }
        ),
        "{err}"
    );
    // ... and past the SDK, row-level security refuses it.
    let err = stolen()
        .execute(tx.dangerous_raw_connection().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);
    let err = f
        .pool
        .begin(&f.acme)
        .await
        .unwrap()
        .fetch_all::<Uuid, _>(orders::table.for_tenant(&f.globex).select(orders::id))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Tenant(tenancy_core::TenantError::Mismatch { .. })
    ));
    assert_clean(&f).await;
}

#[tokio::test]
async fn no_tenant_means_no_rows() {
    let f = fixture().await;
    let mut conn = f.raw.get().await.unwrap();
    assert_eq!(
        orders::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn connections_come_back_clean_after_commit_drop_failed_begin_and_cancel() {
    let f = fixture().await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Ghost")))
        .await
        .unwrap();
    drop(tx); // an error path or a panic: no commit
    assert_clean(&f).await;

    let bad = f.pool.clone().with_binding(
        tenancy_core::rls::TenantBinding::default().with_tx_options(
            TxOptions::default()
                .setting("statement_timeout", "nope")
                .unwrap(),
        ),
    );
    assert!(bad.begin(&f.acme).await.is_err());
    assert_clean(&f).await;

    let (mut finished, mut cancelled) = (0, 0);
    for i in 0..60_usize {
        // Every fourth begin commits; the others are dropped after 1..=15
        // polls, at a different point of the begin each time.
        match poll_at_most(f.pool.begin(&f.acme), PollBudget::cycle(i, 4, 15)).await {
            Some(tx) => {
                tx.unwrap().commit().await.unwrap();
                finished += 1;
            }
            None => cancelled += 1,
        }
        assert_clean(&f).await;
    }
    assert!(
        cancelled > 0,
        "no begin was cancelled: the test exercised nothing"
    );
    assert!(
        finished >= 60 / 4,
        "{finished} of the completing begins finished"
    );

    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let items: Vec<String> = tx
        .fetch_all(orders::table.for_tenant(&f.acme).select(orders::item))
        .await
        .unwrap();
    assert_eq!(items.len(), 3, "no ghost row: {items:?}");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_tenant_with_its_own_schema_is_served_from_it() {
    let f = fixture().await;
    let id = TenantId::new_v4();
    let schema = tenancy_core::SchemaName::for_tenant(&id);
    let app = tenancy_core::rls::Ident::new(tenancy_testing::APP_ROLE).unwrap();
    let policy = TenantPolicy::new("orders").unwrap();
    // The provisioning SQL shared with tenancy-sqlx, then the same table.
    f.db.admin_sql(&format!(
        "{}SET search_path = {};
         CREATE TABLE orders (id uuid NOT NULL DEFAULT gen_random_uuid(), {}, item text NOT NULL,
                              quantity int NOT NULL DEFAULT 1, PRIMARY KEY (tenant_id, id)); {}",
        schema.provision_sql(Some(&app)),
        schema.sql(),
        policy.column_sql(),
        policy.enable_sql()
    ))
    .unwrap();
    let bank = Tenant::builder(id, "bank".parse().unwrap())
        .settings(
            tenancy_core::TenantSettings::default()
                .with_placement(tenancy_core::Placement::shared().with_schema(schema.clone())),
        )
        .build();

    let mut tx = f.pool.begin(&bank).await.unwrap();
    tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Loan")))
        .await
        .unwrap();
    let items: Vec<String> = tx
        .fetch_all(orders::table.for_tenant(&bank).select(orders::item))
        .await
        .unwrap();
    assert_eq!(items, ["Loan"]);
    tx.commit().await.unwrap();
    assert_eq!(
        f.db.admin_sql("SELECT count(*) FROM public.orders")
            .unwrap(),
        "5"
    );
    let in_schema = format!("SELECT count(*) FROM {}.orders", schema.sql());
    assert_eq!(f.db.admin_sql(&in_schema).unwrap(), "1");

    // acme's transaction cannot read bank's schema even by naming it.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let sneaky = format!("SELECT tenant_id FROM {}.orders", schema.sql());
    let err = diesel::sql_query(sneaky)
        .load::<Owner>(tx.dangerous_raw_connection().unwrap())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("permission denied"), "{err}");
    drop(tx);
    assert_clean(&f).await;
}

async fn session_state(f: &Fixture) -> SessionState {
    let mut conn = f.raw.get().await.unwrap();
    diesel::sql_query(session_state_sql())
        .get_result(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn session_state_left_by_raw_sql_is_reset_or_the_connection_closed() {
    use diesel_async::SimpleAsyncConnection;
    let f = fixture().await;
    let before = session_state(&f).await;
    assert_eq!(before.state, fresh_session());
    // Session-level SETs inside the transaction outlive its COMMIT.
    let attack = format!(
        "SET app.tenant_id = '{}'; SET search_path = pg_temp, public; \
         SET default_transaction_read_only = on; LISTEN tenant_events; SELECT pg_advisory_lock(42)",
        f.globex.id()
    );
    for commit in [true, false] {
        let mut tx = f.pool.begin(&f.acme).await.unwrap();
        tx.dangerous_raw_connection()
            .unwrap()
            .batch_execute(&attack)
            .await
            .unwrap();
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        let after = session_state(&f).await;
        assert_eq!(after.state, fresh_session(), "commit: {commit}");
        assert_eq!(after.pid, before.pid, "a reset connection is reused");
    }
    // Prepared statements cannot be reset without the driver's: closed.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    tx.dangerous_raw_connection()
        .unwrap()
        .batch_execute("PREPARE squatter AS SELECT * FROM orders")
        .await
        .unwrap();
    tx.commit().await.unwrap_err();
    let after = session_state(&f).await;
    assert_eq!(after.state, fresh_session());
    assert_ne!(after.pid, before.pid);
}

#[tokio::test]
async fn a_connection_swapped_in_through_raw_connection_never_reaches_the_pool() {
    use diesel_async::AsyncConnection;
    let f = fixture().await;
    let mut admin = AsyncPgConnection::establish(f.db.admin_url())
        .await
        .unwrap();
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    std::mem::swap(tx.dangerous_raw_connection().unwrap(), &mut admin);
    // The administrator's connection is in no transaction: COMMIT fails,
    // and the connection is closed rather than returned.
    tx.commit().await.unwrap_err();
    drop(admin);
    let next = session_state(&f).await;
    assert_eq!(next.state, fresh_session());
}
