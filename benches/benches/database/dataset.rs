//! The data every database benchmark reads: `orders` under the generated RLS
//! policy and `orders_plain`, the same rows without RLS (the baseline).

use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{Tenant, TenantId};
use tenancy_testing::TestDatabase;
use uuid::Uuid;

use crate::settings::Settings;

/// A database with the two tables and keys to look rows up by.
pub struct Dataset {
    pub db: TestDatabase,
    /// `(tenant, order id)` of existing rows, spread over the tenants.
    pub keys: Vec<(Tenant, Uuid)>,
    pub rows: u64,
    pub tenants: u64,
    pub quick: bool,
}

impl Dataset {
    /// Creates and fills the tables as the owner; not timed.
    pub fn load(rt: &tokio::runtime::Runtime, settings: &Settings) -> Self {
        let db = tenancy_testing::test_database();
        let policy = TenantPolicy::new("orders").expect("a valid table name");
        let started = std::time::Instant::now();
        db.owner_sql(&format!(
            "CREATE TABLE orders (
                id uuid NOT NULL,
                {column},
                item text NOT NULL,
                quantity int NOT NULL,
                PRIMARY KEY (tenant_id, id)
            );
            INSERT INTO orders (tenant_id, id, item, quantity)
                SELECT md5((g % {tenants})::text)::uuid, gen_random_uuid(), 'item ' || (g % 50), g % 7 + 1
                FROM generate_series(1, {rows}) AS g;
            CREATE TABLE orders_plain AS SELECT * FROM orders;
            ALTER TABLE orders_plain ADD PRIMARY KEY (tenant_id, id);
            CREATE INDEX ON orders_plain (tenant_id);
            {enable}
            ANALYZE orders;
            ANALYZE orders_plain;",
            column = policy.column_sql(),
            enable = policy.enable_sql(),
            tenants = settings.tenants,
            rows = settings.rows,
        ))
        .expect("the benchmark data set loads");
        eprintln!(
            "data set: {} rows over {} tenants, loaded in {:.1} s",
            settings.rows,
            settings.tenants,
            started.elapsed().as_secs_f64()
        );
        let keys = rt.block_on(async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(db.admin_url())
                .await
                .expect("an admin connection");
            let keys: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT DISTINCT ON (tenant_id) tenant_id, id FROM orders ORDER BY tenant_id, id LIMIT 256",
            )
            .fetch_all(&admin)
            .await
            .expect("sample keys");
            admin.close().await;
            keys
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
        Self {
            db,
            keys,
            rows: settings.rows,
            tenants: settings.tenants,
            quick: settings.quick,
        }
    }

    /// The `i`-th key, cycling.
    pub fn key(&self, i: usize) -> (Tenant, Uuid) {
        let (tenant, id) = &self.keys[i % self.keys.len()];
        (tenant.clone(), *id)
    }

    /// Server version, data set size and machine, for the report.
    pub fn write_machine_notes(&self) {
        let version = self
            .db
            .admin_sql("SHOW server_version")
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        let notes = serde_json::json!({
            "postgres": version,
            "rows": self.rows,
            "tenants": self.tenants,
            "quick": self.quick,
        });
        let dir = tenancy_bench::output_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("database.json"), notes.to_string());
    }
}
