//! `diesel_tx`: the `sqlx_tx` comparison for diesel (r2d2), on a pool of one
//! connection.
//!
//! - `plain`: diesel's own `transaction`, the query filtered by
//!   `tenant_id` and `id` on the table without RLS.
//! - `tenant_tx`: `tenancy-diesel`'s tenant transaction, the `for_tenant`
//!   query filtered by `id` on the table under RLS.

use criterion::Criterion;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_diesel::{ForTenantDsl, TenantPool};
use uuid::Uuid;

use crate::cases::sync_case;
use crate::dataset::Dataset;
use crate::schema::{orders, orders_plain};

pub type Row = (Uuid, i32);

pub fn bench(c: &mut Criterion, data: &Dataset) {
    let raw = Pool::builder()
        .max_size(1)
        .build(ConnectionManager::<PgConnection>::new(data.db.app_url()))
        .expect("an app-role r2d2 pool");
    let pool = TenantPool::new(raw.clone());
    let mut group = c.benchmark_group("diesel_tx");
    sync_case(&mut group, data, "plain", |tenant, id| {
        let mut conn = raw.get().expect("a connection");
        conn.transaction(|conn| {
            orders_plain::table
                .filter(orders_plain::tenant_id.eq(tenant.id().as_uuid()))
                .filter(orders_plain::id.eq(id))
                .select((orders_plain::id, orders_plain::quantity))
                .first::<Row>(conn)
                .optional()
        })
        .expect("select")
        .is_some()
    });
    sync_case(&mut group, data, "tenant_tx", |tenant, id| {
        pool.transaction(&tenant, |tx| {
            tx.fetch_optional::<Row, _>(
                orders::table
                    .for_tenant(&tenant)
                    .filter(orders::id.eq(id))
                    .select((orders::id, orders::quantity)),
            )
        })
        .expect("select")
        .is_some()
    });
    group.finish();
}
