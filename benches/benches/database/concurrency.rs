//! `concurrency`: 2, 8 and 32 clients at once, each running the `sqlx_tx`
//! transaction, on a pool with one connection per client. One iteration is
//! one transaction per client; the time ratio is the throughput ratio.

use criterion::{BenchmarkId, Criterion, Throughput};
use sqlx::postgres::PgPoolOptions;
use tenancy_sqlx::TenantPool;
use tokio::task::JoinSet;

use crate::dataset::Dataset;
use crate::sqlx_tx::{BY_KEY, BY_KEY_PLAIN, by_key};

pub const CLIENTS: [usize; 3] = [2, 8, 32];

pub fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset) {
    let mut group = c.benchmark_group("concurrency");
    for clients in CLIENTS {
        let max = u32::try_from(clients).expect("few clients");
        let raw = rt
            .block_on(
                PgPoolOptions::new()
                    .min_connections(max)
                    .max_connections(max)
                    .connect(data.db.app_url()),
            )
            .expect("an app-role pool");
        let pool = TenantPool::new(raw.clone());
        group.throughput(Throughput::Elements(clients as u64));
        let mut next = 0;
        group.bench_function(BenchmarkId::new("plain", clients), |b| {
            b.to_async(rt).iter(|| {
                let mut set = JoinSet::new();
                for _ in 0..clients {
                    next += 1;
                    let ((tenant, id), raw) = (data.key(next), raw.clone());
                    set.spawn(async move {
                        let mut tx = raw.begin().await.expect("begin");
                        let found = by_key(&mut *tx, BY_KEY_PLAIN, &tenant, id).await;
                        tx.commit().await.expect("commit");
                        assert!(found, "plain: the row was not found");
                    });
                }
                set.join_all()
            });
        });
        group.bench_function(BenchmarkId::new("tenant_tx", clients), |b| {
            b.to_async(rt).iter(|| {
                let mut set = JoinSet::new();
                for _ in 0..clients {
                    next += 1;
                    let ((tenant, id), pool) = (data.key(next), pool.clone());
                    set.spawn(async move {
                        let mut tx = pool.begin(&tenant).await.expect("begin");
                        let found = by_key(&mut tx, BY_KEY, &tenant, id).await;
                        tx.commit().await.expect("commit");
                        assert!(found, "tenant_tx: the row was not found");
                    });
                }
                set.join_all()
            });
        });
        rt.block_on(raw.close());
    }
    group.finish();
}
