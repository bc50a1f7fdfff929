//! `rls_*`: what the policy itself costs inside the database. One
//! connection, one open transaction per variant, only the statement timed.
//!
//! - `explicit_where`: the statement with `WHERE tenant_id = $1` on the table
//!   without RLS (the baseline).
//! - `generated_policy`: the statement without `WHERE` on the table under the
//!   policy `TenantPolicy` generates (`tenant_id = (SELECT nullif(...))`).
//! - `naive_policy`: the same under the policy most guides show
//!   (`tenant_id = nullif(current_setting(...), '')::uuid`, no sub-select).
//!
//! Statements: `select` (a tenant's rows), `aggregate` (`count`, `sum`) and
//! `aggregate_no_index` (the aggregate with index scans switched off, as on
//! a table whose indexes do not lead with `tenant_id`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use sqlx::{Connection as _, PgConnection, Row as _};
use tenancy_core::Tenant;
use tenancy_core::rls::TenantPolicy;
use tokio::sync::Mutex;

use crate::dataset::Dataset;
use crate::settings::Settings;

struct Statement {
    group: &'static str,
    columns: &'static str,
    index_scans: bool,
}

const STATEMENTS: [Statement; 3] = [
    Statement {
        group: "rls_select",
        columns: "id, quantity",
        index_scans: true,
    },
    Statement {
        group: "rls_aggregate",
        columns: "count(*), sum(quantity)",
        index_scans: true,
    },
    Statement {
        group: "rls_aggregate_no_index",
        columns: "count(*), sum(quantity)",
        index_scans: false,
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    ExplicitWhere,
    GeneratedPolicy,
    NaivePolicy,
}

impl Variant {
    const ALL: [Self; 3] = [
        Self::ExplicitWhere,
        Self::GeneratedPolicy,
        Self::NaivePolicy,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ExplicitWhere => "explicit_where",
            Self::GeneratedPolicy => "generated_policy",
            Self::NaivePolicy => "naive_policy",
        }
    }

    /// The statement's text, tagged with its group: PostgreSQL keeps a
    /// prepared statement's plan when planner settings change, so each group
    /// needs statements of its own.
    fn sql(self, statement: &Statement) -> String {
        let (columns, group) = (statement.columns, statement.group);
        match self {
            Self::ExplicitWhere => {
                format!("SELECT {columns} FROM orders_plain WHERE tenant_id = $1 -- {group}")
            }
            Self::GeneratedPolicy | Self::NaivePolicy => {
                format!("SELECT {columns} FROM orders -- {group}")
            }
        }
    }
}

/// Points the policy's `USING` and `WITH CHECK` at `condition`.
fn set_policy(data: &Dataset, condition: &str) {
    data.db
        .owner_sql(&format!(
            "ALTER POLICY {} ON orders USING ({condition}) WITH CHECK ({condition})",
            TenantPolicy::POLICY_NAME
        ))
        .expect("the policy changes");
}

/// Opens the variant's transaction on `conn`.
async fn begin(conn: &mut PgConnection, variant: Variant, statement: &Statement, tenant: &Tenant) {
    sqlx::raw_sql("BEGIN")
        .execute(&mut *conn)
        .await
        .expect("begin");
    if variant != Variant::ExplicitWhere {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.id().to_string())
            .execute(&mut *conn)
            .await
            .expect("set_config");
    }
    if !statement.index_scans {
        sqlx::raw_sql(
            "SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off",
        )
        .execute(&mut *conn)
        .await
        .expect("planner settings");
    }
}

/// Runs the statement; returns what it saw: rows, and the count of an
/// aggregate (`None` for a select).
async fn run(
    conn: &mut PgConnection,
    sql: &'static str,
    variant: Variant,
    tenant: &Tenant,
) -> (usize, Option<i64>) {
    let mut query = sqlx::query(sql);
    if variant == Variant::ExplicitWhere {
        query = query.bind(tenant.id().as_uuid());
    }
    let rows = query.fetch_all(conn).await.expect("the statement runs");
    let first = rows.first().and_then(|r| r.try_get::<i64, _>(0).ok());
    (rows.len(), first)
}

pub fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset, settings: &Settings) {
    let policy = TenantPolicy::new("orders").expect("a valid table name");
    let generated = policy.condition_sql();
    let naive = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid";
    let tenant = data.key(0).0;
    let conn = rt
        .block_on(PgConnection::connect(data.db.app_url()))
        .expect("an app-role connection");
    let conn = Arc::new(Mutex::new(conn));
    for statement in &STATEMENTS {
        let mut group = c.benchmark_group(statement.group);
        if !statement.index_scans && !settings.quick {
            // Whole-table scans: fewer, longer samples.
            group
                .sample_size(10)
                .sampling_mode(criterion::SamplingMode::Flat);
            group.measurement_time(Duration::from_secs(10));
        }
        let mut expected = None;
        for variant in Variant::ALL {
            set_policy(
                data,
                if variant == Variant::NaivePolicy {
                    naive
                } else {
                    &generated
                },
            );
            // sqlx takes SQL text as `&'static str`; nine short strings.
            let sql: &'static str = variant.sql(statement).leak();
            // Not timed: open the transaction and check the variant sees
            // exactly what the baseline sees (no rows would be fast and wrong).
            let seen = rt.block_on(async {
                let mut conn = conn.lock().await;
                begin(&mut conn, variant, statement, &tenant).await;
                run(&mut conn, sql, variant, &tenant).await
            });
            assert!(
                seen.0 > 0 && seen.1 != Some(0),
                "{}: {} saw no rows",
                statement.group,
                variant.name()
            );
            assert_eq!(
                *expected.get_or_insert(seen),
                seen,
                "{}: {} saw other rows",
                statement.group,
                variant.name()
            );
            group.bench_function(variant.name(), |b| {
                b.to_async(rt).iter_custom(|iters| {
                    let (conn, tenant) = (Arc::clone(&conn), tenant.clone());
                    async move {
                        let mut conn = conn.lock().await;
                        let started = Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(run(&mut conn, sql, variant, &tenant).await);
                        }
                        started.elapsed()
                    }
                });
            });
            rt.block_on(async {
                let mut conn = conn.lock().await;
                sqlx::raw_sql("COMMIT")
                    .execute(&mut *conn)
                    .await
                    .expect("commit");
            });
        }
        group.finish();
    }
    set_policy(data, &generated);
}
