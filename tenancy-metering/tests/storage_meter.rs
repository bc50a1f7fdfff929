//! Storage per tenant in a real PostgreSQL, against the same counts with
//! an explicit `WHERE tenant_id`: every tenant at once (exact and sampled),
//! one tenant inside its own transaction, and nothing without a tenant.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

use sqlx::PgPool;
use tenancy_core::{Tenant, TenantId};
use tenancy_metering::postgres::{StorageMeter, UsageStore};
use tenancy_sqlx::TenantPool;
use tenancy_testing::{APP_ROLE, PROVISIONER_ROLE, TestDatabase};

struct World {
    _db: TestDatabase,
    admin: PgPool,
    app: PgPool,
    a: Tenant,
    b: Tenant,
}

/// Tenants a and b: a with `n` orders and 2 lines each, b with twice as
/// many of both.
async fn world(n: u32) -> World {
    let db = tenancy_testing::test_database();
    db.create_tenant_table("orders", "id int NOT NULL, item text NOT NULL")
        .unwrap();
    db.create_tenant_table("order_lines", "order_id int NOT NULL, qty int NOT NULL")
        .unwrap();
    // Not a tenant table (its tenant column is `tenant`).
    db.owner_sql(&UsageStore::schema_sql(PROVISIONER_ROLE, APP_ROLE).unwrap())
        .unwrap();
    let tenant = |slug: &str| Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build();
    let (a, b) = (tenant("a"), tenant("b"));
    for (t, count) in [(&a, n), (&b, 2 * n)] {
        db.owner_sql(&format!(
            "SET app.tenant_id = '{id}';
             INSERT INTO orders (id, item) SELECT g, 'item number ' || g FROM generate_series(1, {count}) g;
             INSERT INTO order_lines (order_id, qty) SELECT g / 2, g FROM generate_series(1, {lines}) g;",
            id = t.id(),
            lines = 2 * count
        ))
        .unwrap();
    }
    World {
        admin: PgPool::connect(db.admin_url()).await.unwrap(),
        app: PgPool::connect(db.app_url()).await.unwrap(),
        _db: db,
        a,
        b,
    }
}

/// Rows and bytes of `tenant` with an explicit `WHERE`, as a superuser.
async fn explicit(admin: &PgPool, tenant: &Tenant) -> (u64, u64) {
    let (rows, bytes): (i64, i64) = sqlx::query_as(
        "SELECT sum(n)::int8, sum(b)::int8 FROM ( \
           SELECT count(*) n, sum(pg_column_size(t.*)) b FROM orders t WHERE tenant_id = $1 \
           UNION ALL \
           SELECT count(*), sum(pg_column_size(t.*)) FROM order_lines t WHERE tenant_id = $1) s",
    )
    .bind(*tenant.id_ref().value())
    .fetch_one(admin)
    .await
    .unwrap();
    (rows.try_into().unwrap(), bytes.try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tenants_storage_matches_an_explicit_where() {
    let w = world(50).await;
    let meter = StorageMeter::discover(&w.admin, "tenant_id").await.unwrap();
    assert_eq!(
        meter.tables().collect::<Vec<_>>(),
        ["public.order_lines", "public.orders"]
    );
    let measured = meter.measure_all(&w.admin, None).await.unwrap();
    let (a, b) = (
        explicit(&w.admin, &w.a).await,
        explicit(&w.admin, &w.b).await,
    );
    assert_eq!((a.0, b.0), (150, 300));
    let mut expected = vec![(w.a.id().to_string(), a), (w.b.id().to_string(), b)];
    expected.sort();
    assert_eq!(measured.len(), 2);
    for (storage, (id, (rows, bytes))) in measured.iter().zip(&expected) {
        assert_eq!((&storage.tenant, storage.rows), (id, *rows));
        // `pg_column_size` of a whole row can differ by a few bytes from
        // one plan to another (grouped here, by index there).
        assert!(
            storage.bytes.abs_diff(*bytes) * 200 < *bytes,
            "{} for {bytes}",
            storage.bytes
        );
    }

    // Under row-level security without a tenant: nothing.
    assert!(meter.measure_all(&w.app, None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_measures_its_own_storage_in_its_transaction() {
    let w = world(20).await;
    let meter = StorageMeter::new([("orders", "tenant_id"), ("order_lines", "tenant_id")]).unwrap();
    let pool = TenantPool::new(w.app.clone());
    for tenant in [&w.a, &w.b] {
        let mut tx = pool.begin(tenant).await.unwrap();
        let seen = meter.measure_tenant(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        let (rows, bytes) = explicit(&w.admin, tenant).await;
        assert_eq!(seen.0, rows);
        assert!(
            seen.1.abs_diff(bytes) * 200 < bytes,
            "{} for {bytes}",
            seen.1
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sample_of_pages_estimates_big_tenants() {
    // About 300 pages of a's rows and 600 of b's.
    let w = world(20_000).await;
    let meter = StorageMeter::new([("orders", "tenant_id"), ("order_lines", "tenant_id")]).unwrap();
    let sampled = meter.measure_all(&w.admin, Some(50.0)).await.unwrap();
    for tenant in [&w.a, &w.b] {
        let (rows, bytes) = explicit(&w.admin, tenant).await;
        let estimate = sampled
            .iter()
            .find(|s| s.tenant == tenant.id().to_string())
            .unwrap();
        // Half the pages, each all of one tenant's rows: the standard error
        // is about 5%; 40% is far outside it.
        for (estimated, exact) in [(estimate.rows, rows), (estimate.bytes, bytes)] {
            assert!(
                estimated * 10 > exact * 6 && estimated * 10 < exact * 14,
                "{estimated} for {exact}"
            );
        }
    }
    assert!(
        meter
            .measure_all(&w.admin, Some(100.0))
            .await
            .unwrap()
            .iter()
            .all(|s| s.rows == 60_000 || s.rows == 120_000)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sample_outside_0_to_100_percent_measures_exactly() {
    let w = world(50).await;
    let meter = StorageMeter::new([("orders", "tenant_id"), ("order_lines", "tenant_id")]).unwrap();
    let exact = meter.measure_all(&w.admin, None).await.unwrap();
    assert_eq!(exact.len(), 2);
    for p in [0.0, -5.0, 100.0, 250.0, f64::NAN] {
        assert_eq!(
            meter.measure_all(&w.admin, Some(p)).await.unwrap(),
            exact,
            "{p}"
        );
    }
    // A real sample reads a sample: one page in a million of these few
    // pages is none at all.
    assert!(
        meter
            .measure_all(&w.admin, Some(0.0001))
            .await
            .unwrap()
            .is_empty()
    );
}
