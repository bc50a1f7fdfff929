//! The `Scoped` builder against the same query in raw SQL, on one open
//! tenant transaction: alternating pairs, so both see the same connection,
//! cache and moment; medians.

use std::time::Instant;

use sqlx::postgres::PgPoolOptions;
use tenancy_core::Tenant;
use tenancy_sqlx::{Scoped, TenantPool, TenantTx};

use crate::cases::{BY_KEY, Orders};
use crate::data::Data;

type Row = (uuid::Uuid, i32);

pub async fn builder_vs_raw(data: &Data, pairs: usize) -> serde_json::Value {
    let raw = PgPoolOptions::new()
        .max_connections(1)
        .connect(data.db.app_url())
        .await
        .expect("an app-role pool");
    let pool = TenantPool::new(raw);
    let (tenant, id) = data.key(0);
    let mut tx = pool.begin(&tenant).await.expect("begin");
    let (mut with_raw, mut with_builder) = (Vec::new(), Vec::new());
    for pair in 0..=pairs {
        let started = Instant::now();
        let row: Option<Row> = sqlx::query_as(BY_KEY)
            .bind(tenant.id().as_uuid())
            .bind(id)
            .fetch_optional(&mut tx)
            .await
            .expect("raw select");
        let raw_time = started.elapsed().as_secs_f64();
        assert!(row.is_some(), "raw SQL: the row was not found");
        let started = Instant::now();
        let found = by_key_builder(&mut tx, &tenant, id).await;
        let builder_time = started.elapsed().as_secs_f64();
        assert!(found, "builder: the row was not found");
        // The first pair prepares both statements: not counted.
        if pair > 0 {
            with_raw.push(raw_time);
            with_builder.push(builder_time);
        }
    }
    tx.commit().await.expect("commit");
    let (raw_ns, _, _) = crate::rounds::spread(&mut with_raw);
    let (builder_ns, _, _) = crate::rounds::spread(&mut with_builder);
    serde_json::json!({
        "pairs": pairs,
        "raw_ns": raw_ns * 1e9,
        "builder_ns": builder_ns * 1e9,
    })
}

/// The order by key through the `Scoped` builder.
pub async fn by_key_builder(tx: &mut TenantTx, tenant: &Tenant, id: uuid::Uuid) -> bool {
    let row: Option<Row> = Scoped::<Orders>::select()
        .columns(&["id", "quantity"])
        .for_tenant(tenant)
        .where_eq("id", id)
        .fetch_optional(tx)
        .await
        .expect("builder select");
    row.is_some()
}
