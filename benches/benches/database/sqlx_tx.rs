//! `sqlx_tx`: one transaction that reads one order by primary key, on a pool
//! of one connection.
//!
//! - `plain`: sqlx `begin`, `WHERE tenant_id = $1 AND id = $2` on the table
//!   without RLS, commit: what an app without tenancy does.
//! - `tenant_tx`: `TenantPool::begin(&tenant)` (tenant bound in the `BEGIN`
//!   message), the same statement on the table under RLS, commit.
//! - `tenant_tx_builder`: the same through the `Scoped` select builder.
//! - `naive_set_config`: what most tutorials show: `begin`, a separate
//!   `SELECT set_config(...)` round trip, the statement, commit.
//! - `tenant_tx_metered`: `tenant_tx` on a metered pool (`TxMeter`, an
//!   observer that counts): tenant, time and outcome of each transaction.
//! - `tenant_tx_metered_rows`: the same, also counting the rows written to
//!   two tables from PostgreSQL's statistics, read in the `BEGIN` and
//!   `COMMIT` messages.

use criterion::Criterion;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tenancy_core::Tenant;

use tenancy_sqlx::{Scoped, TenantPool, TxMeter, TxReport};
use uuid::Uuid;

use crate::cases::async_case;
use crate::dataset::Dataset;

tenancy_sqlx::tenant_table!(Orders = "orders");

type Row = (Uuid, i32);

/// One order by primary key, from the table under RLS.
pub const BY_KEY: &str = "SELECT id, quantity FROM orders WHERE tenant_id = $1 AND id = $2";
/// The same from the table without RLS.
pub const BY_KEY_PLAIN: &str =
    "SELECT id, quantity FROM orders_plain WHERE tenant_id = $1 AND id = $2";

pub async fn by_key<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Postgres>,
    sql: &'static str,
    tenant: &Tenant,
    id: Uuid,
) -> bool {
    let row: Option<Row> = sqlx::query_as(sql)
        .bind(tenant.id().as_uuid())
        .bind(id)
        .fetch_optional(conn)
        .await
        .expect("select");
    row.is_some()
}

pub fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset) {
    let raw: PgPool = rt
        .block_on(
            PgPoolOptions::new()
                .max_connections(1)
                .connect(data.db.app_url()),
        )
        .expect("an app-role pool");
    let pool = TenantPool::new(raw.clone());
    let mut group = c.benchmark_group("sqlx_tx");
    async_case(&mut group, rt, data, "plain", |tenant, id| {
        let raw = raw.clone();
        async move {
            let mut tx = raw.begin().await.expect("begin");
            let found = by_key(&mut *tx, BY_KEY_PLAIN, &tenant, id).await;
            tx.commit().await.expect("commit");
            found
        }
    });
    tenant_tx_case(&mut group, rt, data, "tenant_tx", &pool);
    async_case(&mut group, rt, data, "tenant_tx_builder", |tenant, id| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin(&tenant).await.expect("begin");
            let row: Option<Row> = Scoped::<Orders>::select()
                .columns(&["id", "quantity"])
                .for_tenant(&tenant)
                .where_eq("id", id)
                .fetch_optional(&mut tx)
                .await
                .expect("select");
            tx.commit().await.expect("commit");
            row.is_some()
        }
    });
    async_case(&mut group, rt, data, "naive_set_config", |tenant, id| {
        let raw = raw.clone();
        async move {
            let mut tx = raw.begin().await.expect("begin");
            sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
                .bind(tenant.id().to_string())
                .execute(&mut *tx)
                .await
                .expect("set_config");
            let found = by_key(&mut *tx, BY_KEY, &tenant, id).await;
            tx.commit().await.expect("commit");
            found
        }
    });
    let ended = Arc::new(AtomicU64::new(0));
    let counter = ended.clone();
    let meter = TxMeter::new(move |_: &TxReport<'_>| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let metered = pool.clone().metered(meter.clone());
    let metered_rows = pool.clone().metered(
        meter
            .rows_written_in(["orders", "orders_plain"])
            .expect("valid table names"),
    );
    tenant_tx_case(&mut group, rt, data, "tenant_tx_metered", &metered);
    tenant_tx_case(
        &mut group,
        rt,
        data,
        "tenant_tx_metered_rows",
        &metered_rows,
    );
    assert!(
        ended.load(Ordering::Relaxed) > 0,
        "the meter saw no transaction"
    );
    group.finish();
    rt.block_on(raw.close());
}

/// `TenantPool::begin` on `pool`, the select by key with raw SQL, commit.
fn tenant_tx_case(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    data: &Dataset,
    name: &str,
    pool: &TenantPool,
) {
    async_case(group, rt, data, name, |tenant, id| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin(&tenant).await.expect("begin");
            let found = by_key(&mut tx, BY_KEY, &tenant, id).await;
            tx.commit().await.expect("commit");
            found
        }
    });
}
