//! `diesel_async_tx`: the `sqlx_tx` comparison for diesel-async (deadpool),
//! on a pool of one connection.
//!
//! - `plain`: diesel-async's own `transaction`, the query filtered by
//!   `tenant_id` and `id` on the table without RLS.
//! - `tenant_tx`: `AsyncTenantPool::begin`, the `for_tenant` query filtered
//!   by `id` on the table under RLS, commit.

use criterion::Criterion;
use diesel::{ExpressionMethods as _, OptionalExtension as _, QueryDsl as _};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use tenancy_diesel::{AsyncTenantPool, ForTenantDsl};

use crate::cases::async_case;
use crate::dataset::Dataset;
use crate::diesel_tx::Row;
use crate::schema::{orders, orders_plain};

pub fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset) {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(data.db.app_url());
    let raw = Pool::builder(manager)
        .max_size(1)
        .build()
        .expect("an app-role deadpool");
    let pool = AsyncTenantPool::new(raw.clone());
    let mut group = c.benchmark_group("diesel_async_tx");
    async_case(&mut group, rt, data, "plain", |tenant, id| {
        let raw = raw.clone();
        async move {
            let mut conn = raw.get().await.expect("a connection");
            let tenant = *tenant.id().as_uuid();
            conn.transaction(async move |conn| {
                orders_plain::table
                    .filter(orders_plain::tenant_id.eq(tenant))
                    .filter(orders_plain::id.eq(id))
                    .select((orders_plain::id, orders_plain::quantity))
                    .first::<Row>(conn)
                    .await
                    .optional()
            })
            .await
            .expect("select")
            .is_some()
        }
    });
    async_case(&mut group, rt, data, "tenant_tx", |tenant, id| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin(&tenant).await.expect("begin");
            let rows: Vec<Row> = tx
                .fetch_all(
                    orders::table
                        .for_tenant(&tenant)
                        .filter(orders::id.eq(id))
                        .select((orders::id, orders::quantity)),
                )
                .await
                .expect("select");
            tx.commit().await.expect("commit");
            rows.len() == 1
        }
    });
    group.finish();
}
