//! Shared fixture: a fresh database with an `orders` table under RLS, two
//! tenants with rows, and pools connected as the unprivileged app role.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use tenancy_core::rls::TenantPolicy;
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
    let policy = TenantPolicy::new("orders").unwrap();
    format!(
        "CREATE TABLE orders (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            {},
            item text NOT NULL,
            quantity int NOT NULL DEFAULT 1,
            PRIMARY KEY (tenant_id, id)
        );
        {}",
        policy.column_sql(),
        policy.enable_sql()
    )
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

/// What the next user of a pooled connection sees: no tenant setting and no
/// open (or aborted) transaction. Returns the backend pid.
pub async fn assert_clean(raw: &PgPool) -> i32 {
    let mut conn = raw.acquire().await.unwrap();
    // Simple protocol: one message, so outside a transaction the statement
    // starts exactly when its implicit transaction does.
    let row = sqlx::raw_sql(
        "SELECT current_setting('app.tenant_id', true), now() <> statement_timestamp(), pg_backend_pid()",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("the pooled connection is unusable (aborted transaction?)");
    let (setting, in_tx, pid): (Option<String>, bool, i32) = (row.get(0), row.get(1), row.get(2));
    assert!(
        setting.as_deref().unwrap_or("").is_empty(),
        "pooled connection still carries tenant {setting:?}"
    );
    assert!(!in_tx, "pooled connection is inside an open transaction");
    // And a plain query without a tenant sees nothing.
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(visible, 0, "a query without a tenant saw rows");
    pid
}
