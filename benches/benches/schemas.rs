//! Schema-per-tenant at scale: provisioning N tenant schemas (schema, role,
//! grants, the migrations), then `migrate_all` over all of them with 1, 4
//! and 8 workers, once with nothing to do and once with a real migration;
//! the catalog's size. Not criterion: each step runs once, timed whole.
//!
//! `cargo bench -p tenancy-bench --bench schemas` measures 10,000 schemas
//! (`TENANCY_BENCH_SCHEMAS` to change it) and writes
//! `target/tenancy-bench/schemas.json`. Under `cargo test` it runs with
//! 100 schemas and checks every outcome, not times.

use std::time::Instant;

use futures_util::StreamExt as _;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{SchemaName, TenantId};
use tenancy_sqlx::schemas::{MigrationReport, Migrations, SchemaProvisioner};
use tenancy_testing::APP_ROLE;

/// Two tables with the usual keys and an index, as a small app has.
const V1: &str =
    "CREATE TABLE customers (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL REFERENCES customers (id), item text NOT NULL, quantity int NOT NULL);
CREATE INDEX ON orders (customer_id);";
/// A column added everywhere.
const V2: &str = "ALTER TABLE orders ADD COLUMN note text;";

const WORKERS: [usize; 3] = [1, 4, 8];

fn migrations(with_v2: bool) -> Migrations {
    let m = Migrations::new()
        .add(1, "customers and orders", V1)
        .expect("v1");
    if with_v2 {
        m.add(2, "order notes", V2).expect("v2")
    } else {
        m
    }
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let n: usize = if measuring {
        std::env::var("TENANCY_BENCH_SCHEMAS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000)
    } else {
        100
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let db = tenancy_testing::test_database();
    let report = rt.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(db.provisioner_url())
            .await
            .expect("a provisioner pool");
        let schemas: Vec<SchemaName> = (0..n)
            .map(|_| SchemaName::for_tenant(&TenantId::new_v4()))
            .collect();
        let v1 = SchemaProvisioner::new(pool.clone(), migrations(false))
            .grant_to(APP_ROLE)
            .expect("a valid role");

        let started = Instant::now();
        let provisioned: Vec<_> = futures_util::stream::iter(&schemas)
            .map(|schema| v1.provision(schema))
            .buffer_unordered(4)
            .collect()
            .await;
        let provision_s = started.elapsed().as_secs_f64();
        for outcome in &provisioned {
            assert_eq!(outcome.as_ref().expect("provisioned"), &vec![1]);
        }
        eprintln!("provisioned {n} schemas in {provision_s:.1} s");

        let mut noop = serde_json::Map::new();
        for workers in WORKERS {
            let started = Instant::now();
            let report = v1
                .migrate_all(schemas.iter().cloned(), workers, |_| {})
                .await;
            let s = started.elapsed().as_secs_f64();
            check(&report, 0, n, "no-op");
            eprintln!("no-op migrate_all of {n} schemas, {workers} workers: {s:.2} s");
            noop.insert(workers.to_string(), serde_json::json!(s));
        }

        let v2 = SchemaProvisioner::new(pool.clone(), migrations(true));
        let started = Instant::now();
        let report = v2.migrate_all(schemas.iter().cloned(), 4, |_| {}).await;
        let real_s = started.elapsed().as_secs_f64();
        check(&report, n, 0, "v2");
        eprintln!("migrate_all adding a column to {n} schemas, 4 workers: {real_s:.1} s");

        let (database_bytes, relations): (i64, i64) = sqlx::query_as(
            "SELECT pg_database_size(current_database()), (SELECT count(*) FROM pg_class)",
        )
        .fetch_one(&pool)
        .await
        .expect("catalog size");
        let catalog_bytes: i64 = sqlx::query_scalar(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'pg_catalog' AND c.relkind = 'r'",
        )
        .fetch_one(&pool)
        .await
        .expect("catalog size");
        pool.close().await;
        serde_json::json!({
            "schemas": n,
            "provision_s": provision_s,
            "provision_workers": 4,
            "noop_s": noop,
            "migrate_s": real_s,
            "migrate_workers": 4,
            "relations": relations,
            "database_bytes": database_bytes,
            "catalog_bytes": catalog_bytes,
        })
    });
    println!("{report}");
    if measuring {
        let dir = tenancy_bench::output_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("schemas.json"), report.to_string());
    }
}

/// Every schema accounted for: `migrated` of them migrated, `current` up
/// to date, none failed.
fn check(report: &MigrationReport, migrated: usize, current: usize, what: &str) {
    assert!(
        report.failed.is_empty(),
        "{what}: failed schemas: {:?}",
        report.failed.first()
    );
    assert_eq!(report.migrated.len(), migrated, "{what}: migrated");
    assert_eq!(report.up_to_date.len(), current, "{what}: up to date");
}
