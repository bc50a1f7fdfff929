//! Every shop query, for real: acme's answers from a database it shares
//! with globex must equal its answers from a database that holds only
//! acme, with row-level security on and with it switched off (so the
//! compile-time scoping alone must do it), and acme's writes must leave
//! globex's data as it was. The diesel versions must answer exactly as the
//! macro versions do; those on the scoped path also with RLS off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use shop::queries as q;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{TenantPool, TenantTx};
use tenancy_testing::TestDatabase;

fn tenant(slug: &str) -> Tenant {
    Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build()
}

/// What every read query answers, as text.
async fn report(tx: &mut TenantTx) -> Vec<String> {
    vec![
        format!(
            "{:?}",
            q::customer_by_email(tx, "customer2-1@example.com")
                .await
                .unwrap()
        ),
        format!("{:?}", q::customers_page(tx, 1, 10).await.unwrap()),
        format!("{:?}", q::category_tree(tx, 1).await.unwrap()),
        format!(
            "{:?}",
            q::products_matching(tx, json!({"vegan": true}))
                .await
                .unwrap()
        ),
        format!("{:?}", q::products_page(tx, 2, 1).await.unwrap()),
        format!("{:?}", q::products_never_sold(tx).await.unwrap()),
        format!("{:?}", q::order_lines(tx, 3).await.unwrap()),
        format!("{:?}", q::customer_orders(tx, 1).await.unwrap()),
        format!("{:?}", q::unpaid_orders(tx).await.unwrap()),
        format!(
            "{:?}",
            q::revenue_per_day(tx, "2026-11-01", "2026-11-30")
                .await
                .unwrap()
        ),
        format!("{:?}", q::top_products(tx, 2).await.unwrap()),
        format!("{:?}", q::customer_values(tx).await.unwrap()),
        format!("{:?}", q::orders_above_average(tx).await.unwrap()),
        format!("{:?}", q::orders_by_status(tx).await.unwrap()),
        format!("{:?}", q::recent_lines(tx, 2).await.unwrap()),
        format!("{:?}", q::currencies(tx).await.unwrap()),
    ]
}

/// The writes, with what each returned, then the report after them.
async fn writes(tx: &mut TenantTx) -> Vec<String> {
    let mut out = vec![
        format!("raise {}", q::raise_prices(tx, 2, 10).await.unwrap()),
        format!("close {}", q::close_paid_orders(tx).await.unwrap()),
        format!(
            "sync {}",
            q::sync_prices(
                tx,
                4,
                &["mug-1".into(), "cap-1".into(), "pin-1".into()],
                &[1500, 900, 200]
            )
            .await
            .unwrap()
        ),
        format!(
            "upsert {}",
            q::upsert_customer(tx, 3, "renamed", "renamed@example.com")
                .await
                .unwrap()
        ),
        format!("delete order {:?}", q::delete_order(tx, 2).await.unwrap()),
        format!(
            "delete lines {}",
            q::delete_customer_lines(tx, 3).await.unwrap()
        ),
        format!(
            "delete customer {}",
            q::delete_customer(tx, 2).await.unwrap()
        ),
    ];
    out.extend(report(tx).await);
    out
}

/// What every diesel query answers, as text, each marked whether it is on
/// the scoped path (`false`: raw SQL, protected by row-level security only).
fn diesel_report(
    tx: &mut tenancy_diesel::TenantTx<'_>,
) -> tenancy_diesel::Result<Vec<(bool, String)>> {
    use shop::diesel_queries as d;
    Ok(vec![
        (
            true,
            format!("{:?}", d::customer_by_email(tx, "customer2-1@example.com")?),
        ),
        (true, format!("{:?}", d::customers_page(tx, 1, 10)?)),
        (false, format!("{:?}", d::category_tree(tx, 1)?)),
        (
            true,
            format!("{:?}", d::products_matching(tx, json!({"vegan": true}))?),
        ),
        (true, format!("{:?}", d::products_page(tx, 2, 1)?)),
        (true, format!("{:?}", d::products_never_sold(tx)?)),
        (true, format!("{:?}", d::order_lines(tx, 3)?)),
        (true, format!("{:?}", d::customer_orders(tx, 1)?)),
        (true, format!("{:?}", d::unpaid_orders(tx)?)),
        (
            true,
            format!("{:?}", d::revenue_per_day(tx, "2026-11-01", "2026-11-30")?),
        ),
        (false, format!("{:?}", d::top_products(tx, 2)?)),
        (true, format!("{:?}", d::customer_values(tx)?)),
        (true, format!("{:?}", d::orders_above_average(tx)?)),
        (true, format!("{:?}", d::orders_by_status(tx)?)),
        (true, format!("{:?}", d::recent_lines(tx, 2)?)),
        (false, format!("{:?}", d::currencies(tx)?)),
    ])
}

/// The writes through diesel, as [`writes`] does them.
fn diesel_writes(
    tx: &mut tenancy_diesel::TenantTx<'_>,
) -> tenancy_diesel::Result<Vec<(bool, String)>> {
    use shop::diesel_queries as d;
    let mut out = vec![
        (true, format!("raise {}", d::raise_prices(tx, 2, 10)?)),
        (true, format!("close {}", d::close_paid_orders(tx)?)),
        (
            true,
            format!(
                "sync {}",
                d::sync_prices(
                    tx,
                    4,
                    &["mug-1".into(), "cap-1".into(), "pin-1".into()],
                    &[1500, 900, 200]
                )?
            ),
        ),
        (
            true,
            format!(
                "upsert {}",
                d::upsert_customer(tx, 3, "renamed", "renamed@example.com")?
            ),
        ),
        (true, format!("delete order {:?}", d::delete_order(tx, 2)?)),
        (
            true,
            format!("delete lines {}", d::delete_customer_lines(tx, 3)?),
        ),
        (
            true,
            format!("delete customer {}", d::delete_customer(tx, 2)?),
        ),
    ];
    out.extend(diesel_report(tx)?);
    Ok(out)
}

struct Shop {
    db: TestDatabase,
    pool: TenantPool,
}

async fn shop(tenants: &[(&Tenant, i32)]) -> Shop {
    let db = tenancy_testing::test_database();
    db.owner_sql(&shop::migration()).unwrap();
    let raw = PgPoolOptions::new()
        .max_connections(2)
        .connect(db.app_url())
        .await
        .unwrap();
    let pool = TenantPool::new(raw);
    for (t, k) in tenants {
        let mut tx = pool.begin(t).await.unwrap();
        shop::sample::seed(&mut tx, *k).await.unwrap();
        tx.commit().await.unwrap();
    }
    Shop { db, pool }
}

impl Shop {
    /// Row-level security off on every tenant table: only the queries'
    /// own scoping keeps tenants apart.
    fn rls_off(&self) {
        for table in shop::TENANT_TABLES {
            self.db
                .owner_sql(&format!(
                    "ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
                ))
                .unwrap();
        }
    }

    async fn read(&self, t: &Tenant) -> Vec<String> {
        let mut tx = self.pool.begin(t).await.unwrap();
        let out = report(&mut tx).await;
        tx.rollback().await.unwrap();
        out
    }

    fn diesel_pool(&self) -> tenancy_diesel::TenantPool {
        let manager =
            diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(self.db.app_url());
        tenancy_diesel::TenantPool::new(
            diesel::r2d2::Pool::builder()
                .max_size(1)
                .build(manager)
                .unwrap(),
        )
    }

    /// The diesel answers; with `rls_off`, only those on the scoped path.
    fn diesel_read(&self, t: &Tenant, rls_off: bool) -> Vec<String> {
        let rows = self.diesel_pool().transaction(t, diesel_report).unwrap();
        rows.into_iter()
            .filter(|(scoped, _)| *scoped || !rls_off)
            .map(|(_, s)| s)
            .collect()
    }

    fn diesel_write(&self, t: &Tenant, rls_off: bool) -> Vec<String> {
        let rows = self.diesel_pool().transaction(t, diesel_writes).unwrap();
        rows.into_iter()
            .filter(|(scoped, _)| *scoped || !rls_off)
            .map(|(_, s)| s)
            .collect()
    }

    async fn write(&self, t: &Tenant) -> Vec<String> {
        let mut tx = self.pool.begin(t).await.unwrap();
        let out = writes(&mut tx).await;
        tx.commit().await.unwrap();
        out
    }
}

#[tokio::test]
async fn every_query_sees_only_its_tenant_with_and_without_rls() {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let solo = shop(&[(&acme, 1)]).await;
    let shared = shop(&[(&acme, 1), (&globex, 3)]).await;
    let alone = solo.read(&acme).await;
    assert!(alone.iter().all(|line| !line.contains("-3")), "{alone:?}");

    assert_eq!(shared.read(&acme).await, alone, "RLS on");
    shared.rls_off();
    solo.rls_off();
    assert_eq!(shared.read(&acme).await, alone, "RLS off: the macros alone");

    let globex_before = shared.read(&globex).await;
    assert_ne!(globex_before, alone);
    let written = shared.write(&acme).await;
    assert_eq!(written, solo.write(&acme).await, "acme's writes, RLS off");
    assert!(
        written.iter().any(|l| l == "delete customer 1"),
        "{written:?}"
    );
    assert_eq!(
        shared.read(&globex).await,
        globex_before,
        "acme's writes touched globex"
    );
}

/// The positions of the raw (RLS-only) queries in [`diesel_report`], left
/// out of the comparison with row-level security off.
const DIESEL_RAW: [usize; 3] = [2, 10, 15];

fn without_raw(report: &[String], offset: usize) -> Vec<String> {
    report
        .iter()
        .enumerate()
        .filter(|(i, _)| i < &offset || !DIESEL_RAW.contains(&(i - offset)))
        .map(|(_, s)| s.clone())
        .collect()
}

#[tokio::test]
async fn diesel_answers_as_the_macros_do_with_and_without_rls() {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let solo = shop(&[(&acme, 1)]).await;
    let shared = shop(&[(&acme, 1), (&globex, 3)]).await;
    let alone = solo.read(&acme).await;
    assert_eq!(
        shared.diesel_read(&acme, false),
        alone,
        "RLS on, every diesel query"
    );
    shared.rls_off();
    assert_eq!(
        shared.diesel_read(&acme, true),
        without_raw(&alone, 0),
        "RLS off, the scoped diesel queries"
    );

    // The writes: diesel on the shared database (RLS off) against the
    // macros on the solo one.
    let globex_before = shared.read(&globex).await;
    let written = solo.write(&acme).await;
    assert_eq!(shared.diesel_write(&acme, true), without_raw(&written, 7));
    assert_eq!(
        shared.read(&globex).await,
        globex_before,
        "acme's diesel writes touched globex"
    );
}
