//! Measures schema-per-tenant provisioning and migration at scale, on a
//! throwaway PostgreSQL (or `DATABASE_URL`):
//!
//! ```text
//! cargo run --release -p tenancy-sqlx --example provision_schemas -- 1000
//! ```
//!
//! Provisions N tenant schemas (schema, role, grants, two migrations each),
//! then adds a third migration and brings all schemas up to date with
//! `migrate_all`, four at a time, then runs it again (nothing to do).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)] // a measuring tool

use std::time::Instant;

use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{SchemaName, TenantId};
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1000, |a| a.parse().expect("the number of tenants"));
    let db = tenancy_testing::test_database();
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(db.provisioner_url())
        .await
        .unwrap();
    let policy = TenantPolicy::new("orders").unwrap();
    let base = Migrations::new()
        .add(
            1,
            "orders",
            &format!(
                "CREATE TABLE orders (id uuid NOT NULL DEFAULT gen_random_uuid(), {}, \
                 item text NOT NULL, PRIMARY KEY (tenant_id, id)); {}",
                policy.column_sql(),
                policy.enable_sql()
            ),
        )
        .unwrap()
        .add(
            2,
            "quantity",
            "ALTER TABLE orders ADD quantity int NOT NULL DEFAULT 1",
        )
        .unwrap();
    let provisioner = SchemaProvisioner::new(pool.clone(), base.clone())
        .grant_to(tenancy_testing::APP_ROLE)
        .unwrap();
    let schemas: Vec<SchemaName> = (0..n)
        .map(|_| SchemaName::for_tenant(&TenantId::new_v4()))
        .collect();

    let started = Instant::now();
    for schema in &schemas {
        provisioner.provision(schema).await.unwrap();
    }
    let provisioning = started.elapsed();
    println!(
        "provisioned {n} schemas (schema, role, grants, 2 migrations each) in {:.1} s: {:.1} ms per tenant",
        provisioning.as_secs_f64(),
        provisioning.as_secs_f64() * 1000.0 / n as f64
    );

    let next = SchemaProvisioner::new(
        pool.clone(),
        base.add(3, "notes", "ALTER TABLE orders ADD note text")
            .unwrap(),
    );
    for (label, expect_migrated) in [("migrated", n), ("re-checked (nothing to do)", 0)] {
        let started = Instant::now();
        let report = next.migrate_all(schemas.iter().cloned(), 4, |_| {}).await;
        let took = started.elapsed();
        assert!(report.failed.is_empty(), "{:?}", report.failed.first());
        assert_eq!(report.migrated.len(), expect_migrated);
        println!(
            "{label} {n} schemas, 4 at a time, in {:.1} s: {:.1} ms per tenant",
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / n as f64
        );
    }
    pool.close().await;
}
