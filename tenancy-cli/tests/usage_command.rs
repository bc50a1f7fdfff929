//! `tenancy usage` against real PostgreSQL: usage flushed by the
//! application role, reported per tenant and day (today so far included),
//! as JSON and as a table; bad arguments and databases are exit code 2.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use std::time::Duration;

use common::{tenancy, text};
use sqlx::PgPool;
use tenancy_core::{AnyTenant, Tenant, TenantId};
use tenancy_metering::postgres::UsageStore;
use tenancy_metering::{TenantLabels, UsageLedger};
use tenancy_testing::{APP_ROLE, PROVISIONER_ROLE};

fn tenant(slug: &str) -> AnyTenant {
    AnyTenant::from(Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build())
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_each_tenants_usage_per_day() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&UsageStore::schema_sql(PROVISIONER_ROLE, APP_ROLE).unwrap())
        .unwrap();
    let (a, b) = (tenant("a"), tenant("b"));
    let (a_id, b_id) = (a.id_display().to_string(), b.id_display().to_string());
    // Today, through the flusher's role: a wrote 6 rows in 3
    // transactions, b 7 in one.
    let ledger = UsageLedger::new(TenantLabels::none());
    for _ in 0..3 {
        ledger.record_transaction(&a, Duration::from_millis(2), 2);
    }
    ledger.record_transaction(&b, Duration::from_millis(2), 7);
    let meter = PgPool::connect(db.provisioner_url()).await.unwrap();
    UsageStore::new(meter).flush(&ledger).await.unwrap();
    // Yesterday: a served 24 requests, one per hour.
    db.owner_sql(&format!(
        "INSERT INTO tenancy_usage (period_start, granularity, tenant, metric, value) \
         SELECT date_trunc('day', now(), 'UTC') - interval '1 day' + h * interval '1 hour', \
                'hour', '{a_id}', m, v \
         FROM generate_series(0, 23) h, (VALUES ('requests', 1), ('request_micros', 1500)) x(m, v)"
    ))
    .unwrap();

    let out = tenancy(&[
        "usage",
        "--database-url",
        db.owner_url(),
        "--roll-up",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("rolled up: 2 daily rows added"),
        "{}",
        text(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines = report.as_array().unwrap();
    assert_eq!(lines.len(), 3, "{report:#}");
    // Yesterday's line first, then today's two, by tenant id.
    assert_eq!(lines[0]["tenant"], a_id.as_str());
    assert_eq!(lines[0]["requests"], 24);
    assert_eq!(lines[0]["rows_written"], 0);
    assert!(
        lines[0]["period_start"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );
    let today: Vec<(&str, i64, i64)> = lines[1..]
        .iter()
        .map(|l| {
            (
                l["tenant"].as_str().unwrap(),
                l["transactions"].as_i64().unwrap(),
                l["rows_written"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected = vec![(a_id.as_str(), 3, 6), (b_id.as_str(), 1, 7)];
    expected.sort_unstable();
    assert_eq!(today, expected);

    // The table, for one tenant: yesterday's requests with their average.
    let out = tenancy(&["usage", "--database-url", db.owner_url(), "--tenant", &a_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(
        rows[0],
        [
            "day",
            "tenant",
            "requests",
            "4xx",
            "5xx",
            "avg",
            "ms",
            "transactions",
            "rows",
            "written"
        ]
    );
    assert_eq!(
        rows[1][1..],
        [a_id.as_str(), "24", "0", "0", "1.5", "0", "0"]
    );
    assert_eq!(rows[2][1..], [a_id.as_str(), "0", "0", "0", "-", "3", "6"]);
}

#[test]
fn bad_arguments_and_databases_are_exit_code_2() {
    // Pruning needs the roll-up and both retentions.
    let out = tenancy(&[
        "usage",
        "--database-url",
        "postgres://x",
        "--keep-hours",
        "48",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--roll-up"), "{}", text(&out));
    let out = tenancy(&[
        "usage",
        "--database-url",
        "postgres://127.0.0.1:1/nowhere",
        "--table",
        "bad name",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("SQL identifier"), "{}", text(&out));
    let out = tenancy(&["usage", "--database-url", "postgres://127.0.0.1:1/nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).starts_with("tenancy usage: "), "{}", text(&out));
}

#[test]
fn measures_each_tenants_storage() {
    let db = tenancy_testing::test_database();
    db.create_tenant_table("orders", "id int NOT NULL, item text NOT NULL")
        .unwrap();
    let (a, b) = (tenant("a"), tenant("b"));
    for (t, n) in [(&a, 3), (&b, 5)] {
        db.owner_sql(&format!(
            "SET app.tenant_id = '{}'; INSERT INTO orders (id, item) SELECT g, 'x' FROM generate_series(1, {n}) g;",
            t.id_display()
        ))
        .unwrap();
    }
    let out = tenancy(&[
        "usage",
        "--database-url",
        db.admin_url(),
        "--storage",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("measured 1 tables"), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows: Vec<(String, u64)> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["bytes"].as_u64().unwrap() > 0);
            (
                s["tenant"].as_str().unwrap().to_owned(),
                s["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    let mut expected = vec![
        (a.id_display().to_string(), 3),
        (b.id_display().to_string(), 5),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    // As the application role, under row-level security: no tenant, nothing.
    let out = tenancy(&["usage", "--database-url", db.app_url(), "--storage"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out)
    );
    // A sample is a percentage.
    let out = tenancy(&[
        "usage",
        "--database-url",
        db.admin_url(),
        "--storage",
        "--sample",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}
