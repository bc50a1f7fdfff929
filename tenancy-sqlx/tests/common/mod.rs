//! Shared fixture: a fresh database with an `orders` table under RLS, two
//! tenants with rows, and pools connected as the unprivileged app role.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{Scoped, TenantPool};
use tenancy_testing::TestDatabase;

tenancy_sqlx::tenant_table!(pub Orders = "orders");

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    pub id: uuid::Uuid,
    pub tenant_id: uuid::Uuid,
    pub item: String,
    pub quantity: i32,
}

pub struct Fixture {
    pub db: TestDatabase,
    /// The raw pool under `pool`, for checks that must bypass the SDK.
    pub raw: PgPool,
    pub pool: TenantPool,
    pub acme: Tenant,
    pub globex: Tenant,
}

pub fn tenant(slug: &str) -> Tenant {
    Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build()
}

pub fn migration() -> String {
    tenancy_testing::fixtures::orders_table_sql()
}

/// acme gets 3 orders, globex 2. `max_connections` sizes the app pool.
pub async fn fixture(max_connections: u32) -> Fixture {
    let db = tenancy_testing::test_database();
    db.owner_sql(&migration()).unwrap();
    let raw = PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(db.app_url())
        .await
        .unwrap();
    let pool = TenantPool::new(raw.clone());
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    for (t, items) in [
        (&acme, &["Burger", "Fries", "Cola"][..]),
        (&globex, &["Taco", "Nachos"][..]),
    ] {
        let mut tx = pool.begin(t).await.unwrap();
        for item in items {
            Scoped::<Orders>::insert()
                .value("item", *item)
                .for_tenant(t)
                .execute(&mut tx)
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

/// What the next user of a pooled connection sees: a fresh session
/// ([`tenancy_testing::session`]: no tenant setting, nothing held, no rows
/// visible) and no open (or aborted) transaction. Returns the backend pid.
pub async fn assert_clean(raw: &PgPool) -> i32 {
    let mut conn = raw.acquire().await.unwrap();
    // Simple protocol: one message, so outside a transaction the statement
    // starts exactly when its implicit transaction does.
    let row = sqlx::raw_sql("SELECT now() <> statement_timestamp()")
        .fetch_one(&mut *conn)
        .await
        .expect("the pooled connection is unusable (aborted transaction?)");
    let in_tx: bool = row.get(0);
    assert!(!in_tx, "pooled connection is inside an open transaction");
    let row = sqlx::raw_sql(sqlx::AssertSqlSafe(
        tenancy_testing::session::session_state_sql("app.tenant_id", "orders"),
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let (state, pid): (String, i32) = (row.get(0), row.get(1));
    assert_eq!(
        state,
        tenancy_testing::session::fresh_session(),
        "the pooled connection kept something"
    );
    pid
}
