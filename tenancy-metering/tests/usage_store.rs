//! Usage rollups in a real PostgreSQL: flushes through the application
//! role, which reads only its bound tenant's usage; nothing lost when the
//! database is down; daily rollups and retention as the owner; rows that
//! cannot be updated.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{AnyTenant, Tenant, TenantId};
use tenancy_metering::postgres::{Granularity, UsageError, UsageLine, UsageStore};
use tenancy_metering::{TenantLabels, UsageLedger};
use tenancy_testing::{APP_ROLE, PROVISIONER_ROLE, TestDatabase};

fn tenant(slug: &str) -> AnyTenant {
    AnyTenant::from(Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build())
}

/// The flusher writes as a role of its own (here the harness's
/// provisioner); the application role only reads.
struct Setup {
    db: TestDatabase,
    meter: PgPool,
    app: PgPool,
    owner: PgPool,
}

async fn setup() -> Setup {
    let db = tenancy_testing::test_database();
    db.owner_sql(&UsageStore::schema_sql(PROVISIONER_ROLE, APP_ROLE).unwrap())
        .unwrap();
    Setup {
        meter: PgPool::connect(db.provisioner_url()).await.unwrap(),
        app: PgPool::connect(db.app_url()).await.unwrap(),
        owner: PgPool::connect(db.owner_url()).await.unwrap(),
        db,
    }
}

fn whole_history() -> (SystemTime, SystemTime) {
    (
        SystemTime::UNIX_EPOCH,
        SystemTime::now() + Duration::from_hours(48),
    )
}

/// Every tenant's total of `metric` in the hourly rows, by tenant.
async fn totals(owner: &PgPool, metric: &str) -> Vec<(String, i64)> {
    let (from, to) = whole_history();
    let mut sums: Vec<(String, i64)> = Vec::new();
    for UsageLine {
        tenant,
        metric: m,
        value,
        ..
    } in UsageStore::new(owner.clone())
        .report(Granularity::Hour, from, to)
        .await
        .unwrap()
    {
        if m != metric {
            continue;
        }
        match sums.iter_mut().find(|(t, _)| *t == tenant) {
            Some((_, sum)) => *sum += value,
            None => sums.push((tenant, value)),
        }
    }
    sums.sort();
    sums
}

/// `error` is PostgreSQL refusing a privilege.
fn assert_denied(error: &sqlx::Error) {
    assert!(error.to_string().contains("permission denied"), "{error}");
}

fn id(tenant: &AnyTenant) -> String {
    tenant.id_display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn flushes_keep_every_tenant_and_the_app_reads_only_its_own() {
    let Setup {
        db: _db,
        meter,
        app,
        owner,
    } = setup().await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ledger = UsageLedger::new(TenantLabels::none());
    for _ in 0..3 {
        ledger.record_transaction(&a, Duration::from_millis(1), 2);
    }
    ledger.record_transaction(&b, Duration::from_millis(1), 7);
    let store = UsageStore::new(meter.clone());
    // a: transactions, transaction_micros, rows_written; the same for b.
    assert_eq!(store.flush(&ledger).await.unwrap(), 6);
    assert_eq!(store.flush(&ledger).await.unwrap(), 0, "nothing new");

    let mut expected = vec![(id(&a), 6), (id(&b), 7)];
    expected.sort();
    assert_eq!(totals(&owner, "rows_written").await, expected);

    // The application role, bound to a, reads a's usage only; unbound, none.
    let mut tx = app.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(id(&a))
        .execute(&mut *tx)
        .await
        .unwrap();
    let seen: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT tenant, metric, value FROM tenancy_usage ORDER BY metric")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        seen,
        [
            (id(&a), "rows_written".to_owned(), 6),
            (id(&a), "transaction_micros".to_owned(), 3_000),
            (id(&a), "transactions".to_owned(), 3),
        ]
    );
    let unbound: Vec<(String,)> = sqlx::query_as("SELECT tenant FROM tenancy_usage")
        .fetch_all(&app)
        .await
        .unwrap();
    assert!(unbound.is_empty(), "{unbound:?}");
    // The flusher's role reads nothing.
    let by_meter = sqlx::query("SELECT tenant FROM tenancy_usage")
        .fetch_all(&meter)
        .await
        .unwrap_err();
    assert_denied(&by_meter);
}

#[tokio::test(flavor = "multi_thread")]
async fn code_in_one_tenants_transaction_cannot_charge_another() {
    let Setup {
        db: _db,
        app,
        owner,
        ..
    } = setup().await;
    let (a, b) = (tenant("a"), tenant("b"));
    let mut tx = app.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(id(&a))
        .execute(&mut *tx)
        .await
        .unwrap();
    let charged = sqlx::query(
        "INSERT INTO tenancy_usage (period_start, granularity, tenant, metric, value) \
         VALUES (now(), 'hour', $1, 'requests', 1000000)",
    )
    .bind(id(&b))
    .execute(&mut *tx)
    .await
    .unwrap_err();
    tx.rollback().await.unwrap();
    assert_denied(&charged);
    assert!(totals(&owner, "requests").await.is_empty());
    // And the migration refuses to give one role both sides.
    assert!(matches!(
        UsageStore::schema_sql(APP_ROLE, APP_ROLE),
        Err(UsageError::SharedRole(role)) if role == APP_ROLE
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_rows_cannot_be_changed_by_anyone() {
    let Setup {
        db: _db,
        meter,
        app,
        owner,
    } = setup().await;
    let ledger = UsageLedger::new(TenantLabels::none());
    ledger.record_transaction(&tenant("a"), Duration::ZERO, 1);
    UsageStore::new(meter.clone()).flush(&ledger).await.unwrap();
    let by_meter = sqlx::query("UPDATE tenancy_usage SET value = 0")
        .execute(&meter)
        .await
        .unwrap_err();
    assert_denied(&by_meter);
    let by_app = sqlx::query("UPDATE tenancy_usage SET value = 0")
        .execute(&app)
        .await
        .unwrap_err();
    assert_denied(&by_app);
    let by_app = sqlx::query("DELETE FROM tenancy_usage")
        .execute(&app)
        .await
        .unwrap_err();
    assert_denied(&by_app);
    let by_owner = sqlx::query("UPDATE tenancy_usage SET value = 0")
        .execute(&owner)
        .await
        .unwrap_err();
    assert!(by_owner.to_string().contains("append-only"), "{by_owner}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_flush_loses_nothing_and_counts_nothing_twice() {
    let Setup {
        db, meter, owner, ..
    } = setup().await;
    let a = tenant("a");
    let ledger = UsageLedger::new(TenantLabels::none());
    ledger.record_transaction(&a, Duration::ZERO, 5);
    // A pool whose database refuses: the table's owner revoked the grant.
    db.owner_sql(&format!(
        "REVOKE INSERT ON tenancy_usage FROM {PROVISIONER_ROLE}"
    ))
    .unwrap();
    let store = UsageStore::new(meter.clone());
    assert!(store.flush(&ledger).await.is_err());
    // Counted while the database was down.
    ledger.record_transaction(&a, Duration::ZERO, 3);
    db.owner_sql(&format!(
        "GRANT INSERT ON tenancy_usage TO {PROVISIONER_ROLE}"
    ))
    .unwrap();
    store.flush(&ledger).await.unwrap();
    assert_eq!(totals(&owner, "rows_written").await, [(id(&a), 8)]);
    assert_eq!(totals(&owner, "transactions").await, [(id(&a), 2)]);
    // A pool that is closed.
    ledger.record_transaction(&a, Duration::ZERO, 1);
    let closed = PgPoolOptions::new()
        .connect_lazy(db.provisioner_url())
        .unwrap();
    closed.close().await;
    assert!(UsageStore::new(closed).flush(&ledger).await.is_err());
    store.flush(&ledger).await.unwrap();
    assert_eq!(totals(&owner, "rows_written").await, [(id(&a), 9)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_days_roll_up_once_and_old_rows_are_pruned() {
    let Setup { db: _db, owner, .. } = setup().await;
    let (a, b) = (id(&tenant("a")), id(&tenant("b")));
    // Hourly rows of three days ago and of yesterday, as flushes left them.
    sqlx::query(
        "INSERT INTO tenancy_usage (period_start, granularity, tenant, metric, value) \
         SELECT date_trunc('day', now(), 'UTC') - d * interval '1 day' + h * interval '1 hour', \
                'hour', t, 'requests', 10 * d + h \
         FROM unnest($1::text[]) t, generate_series(1, 3, 2) d, generate_series(0, 23) h",
    )
    .bind([a.clone(), b.clone()])
    .execute(&owner)
    .await
    .unwrap();
    let store = UsageStore::new(owner.clone());
    let (from, to) = whole_history();
    // By day, days not rolled up yet are summed from their hours.
    let before = store.report(Granularity::Day, from, to).await.unwrap();
    // Two days × two tenants.
    assert_eq!(store.roll_up().await.unwrap(), 4);
    assert_eq!(store.roll_up().await.unwrap(), 0, "rolled up once");

    let days = store.report(Granularity::Day, from, to).await.unwrap();
    assert_eq!(days, before);
    // Day d's total per tenant: sum over 24 hours of 10d + h = 240d + 276.
    let values: Vec<(String, i64)> = days.iter().map(|l| (l.tenant.clone(), l.value)).collect();
    let mut expected = vec![(a.clone(), 996), (b.clone(), 996), (a, 516), (b, 516)];
    expected[..2].sort();
    expected[2..].sort();
    assert_eq!(values, expected);
    assert!(days[0].period_start < days[2].period_start);

    // Keep hourly rows for two days and daily rows for 400: the hourly rows
    // of three days ago go (their day is rolled up), the rest stays.
    let pruned = store
        .prune(Duration::from_hours(48), Duration::from_hours(24 * 400))
        .await
        .unwrap();
    assert_eq!(pruned, 2 * 24);
    let hours = store.report(Granularity::Hour, from, to).await.unwrap();
    assert_eq!(hours.len(), 2 * 24);
    assert_eq!(
        store.report(Granularity::Day, from, to).await.unwrap(),
        days
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_finds_nothing_wrong_with_the_usage_table() {
    let Setup { db: _db, owner, .. } = setup().await;
    let report = tenancy_sqlx::audit::audit(
        &owner,
        &tenancy_sqlx::audit::AuditOptions::default().app_role(APP_ROLE),
    )
    .await
    .unwrap();
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_keeps_its_rows_in_the_table_it_names() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&format!(
        "CREATE SCHEMA billing; GRANT USAGE ON SCHEMA billing TO {PROVISIONER_ROLE}, {APP_ROLE};\n{}",
        UsageStore::schema_sql_for(
            "billing.usage",
            PROVISIONER_ROLE,
            APP_ROLE,
            &tenancy_core::rls::SettingName::default()
        )
        .unwrap()
    ))
    .unwrap();
    let meter = PgPool::connect(db.provisioner_url()).await.unwrap();
    let owner = PgPool::connect(db.owner_url()).await.unwrap();
    let ledger = UsageLedger::new(TenantLabels::none());
    ledger.record_transaction(&tenant("a"), Duration::ZERO, 4);
    let store = UsageStore::new(meter).with_table("billing.usage").unwrap();
    assert_eq!(store.flush(&ledger).await.unwrap(), 2);
    let (granularity, rows): (String, i64) =
        sqlx::query_as("SELECT granularity, count(*) FROM billing.usage GROUP BY 1")
            .fetch_one(&owner)
            .await
            .unwrap();
    assert_eq!(
        (granularity.as_str(), rows),
        (Granularity::Hour.as_str(), 2)
    );
    assert!(
        UsageStore::new(owner.clone())
            .with_table("bad name")
            .is_err()
    );
    let (from, to) = whole_history();
    let hours = UsageStore::new(owner)
        .with_table("billing.usage")
        .unwrap()
        .report(Granularity::Hour, from, to)
        .await
        .unwrap();
    assert_eq!(hours.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn days_roll_up_under_their_granularity_and_reports_reach_before_1970() {
    let Setup { db: _db, owner, .. } = setup().await;
    sqlx::query(
        "INSERT INTO tenancy_usage (period_start, granularity, tenant, metric, value) \
         VALUES ('1969-12-30 05:00+00', 'hour', 'a', 'requests', 3)",
    )
    .execute(&owner)
    .await
    .unwrap();
    let store = UsageStore::new(owner.clone());
    assert_eq!(store.roll_up().await.unwrap(), 1);
    let granularities: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT granularity FROM tenancy_usage ORDER BY 1")
            .fetch_all(&owner)
            .await
            .unwrap();
    assert_eq!(
        granularities,
        [
            (Granularity::Day.as_str().to_owned(),),
            (Granularity::Hour.as_str().to_owned(),)
        ]
    );
    let day = Duration::from_hours(24);
    let (from, to) = (
        SystemTime::UNIX_EPOCH - 3 * day,
        SystemTime::UNIX_EPOCH - day,
    );
    let days = store.report(Granularity::Day, from, to).await.unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].value, 3);
    assert_eq!(days[0].period_start, SystemTime::UNIX_EPOCH - 2 * day);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metered_pool_keeps_each_tenants_transactions_and_rows_written() {
    let Setup {
        db,
        meter,
        app,
        owner,
    } = setup().await;
    db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())
        .unwrap();
    let ledger = UsageLedger::new(TenantLabels::none());
    let pool = tenancy_sqlx::TenantPool::new(app).metered(
        tenancy_sqlx::TxMeter::new(ledger.clone())
            .rows_written_in(["orders"])
            .unwrap(),
    );
    let (a, b) = (tenant("a"), tenant("b"));
    // a: two commits writing 3 and 1 rows; b: one commit writing 2, one
    // rollback writing 5.
    for (t, rows, commit) in [(&a, 3, true), (&b, 2, true), (&a, 1, true), (&b, 5, false)] {
        let mut tx = pool.begin(t.downcast().unwrap()).await.unwrap();
        sqlx::query("INSERT INTO orders (item) SELECT 'x' FROM generate_series(1, $1)")
            .bind(rows)
            .execute(&mut tx)
            .await
            .unwrap();
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
    }
    UsageStore::new(meter).flush(&ledger).await.unwrap();
    let sorted = |mut v: Vec<(String, i64)>| {
        v.sort();
        v
    };
    assert_eq!(
        totals(&owner, "rows_written").await,
        sorted(vec![(id(&a), 4), (id(&b), 2)])
    );
    assert_eq!(
        totals(&owner, "transactions").await,
        sorted(vec![(id(&a), 2), (id(&b), 2)])
    );
}
