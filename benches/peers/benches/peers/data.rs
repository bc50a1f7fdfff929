//! The rows every case reads: `orders` under the SDK's generated policy,
//! `orders_plain` the same rows without RLS.

use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{Tenant, TenantId};
use tenancy_testing::TestDatabase;
use uuid::Uuid;

pub struct Data {
    pub db: TestDatabase,
    /// One `(tenant, order id)` per tenant, for lookups by key.
    pub keys: Vec<(Tenant, Uuid)>,
}

/// Tenants owning the rows, evenly.
const TENANTS: u64 = 1000;

impl Data {
    pub fn load(rt: &tokio::runtime::Runtime, rows: u64) -> Self {
        let db = tenancy_testing::test_database();
        let policy = TenantPolicy::new("orders").expect("a valid table name");
        db.owner_sql(&format!(
            "CREATE TABLE orders (
                id uuid NOT NULL, {column}, item text NOT NULL, quantity int NOT NULL,
                PRIMARY KEY (tenant_id, id));
            INSERT INTO orders (tenant_id, id, item, quantity)
                SELECT md5((g % {TENANTS})::text)::uuid, gen_random_uuid(), 'item ' || (g % 50), g % 7 + 1
                FROM generate_series(1, {rows}) AS g;
            CREATE TABLE orders_plain AS SELECT * FROM orders;
            ALTER TABLE orders_plain ADD PRIMARY KEY (tenant_id, id);
            {enable}
            ANALYZE orders; ANALYZE orders_plain;",
            column = policy.column_sql(),
            enable = policy.enable_sql(),
        ))
        .expect("the data loads");
        let keys: Vec<(Uuid, Uuid)> = rt.block_on(async {
            let owner = PgPoolOptions::new()
                .max_connections(1)
                .connect(db.admin_url())
                .await
                .expect("an admin connection");
            sqlx::query_as(
                "SELECT DISTINCT ON (tenant_id) tenant_id, id FROM orders ORDER BY tenant_id, id",
            )
            .fetch_all(&owner)
            .await
            .expect("keys")
        });
        let keys = keys
            .into_iter()
            .enumerate()
            .map(|(i, (tenant, id))| {
                let slug = format!("tenant-{i}").parse().expect("a valid slug");
                (
                    Tenant::builder(TenantId::from_uuid(tenant), slug).build(),
                    id,
                )
            })
            .collect();
        Self { db, keys }
    }

    /// The `i`-th key, cycling.
    pub fn key(&self, i: usize) -> (Tenant, Uuid) {
        let (tenant, id) = &self.keys[i % self.keys.len()];
        (tenant.clone(), *id)
    }
}
