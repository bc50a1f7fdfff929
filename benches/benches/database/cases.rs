//! Running one benchmark case: a key per iteration, cycling over the sample.

use std::future::Future;

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use tenancy_core::Tenant;
use uuid::Uuid;

use crate::dataset::Dataset;

/// Benchmarks `f` under `name`; each iteration gets the next `(tenant, id)`
/// and must find the row (a case that finds nothing measures nothing).
pub fn async_case<F, Fut>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    data: &Dataset,
    name: &str,
    f: F,
) where
    F: Fn(Tenant, Uuid) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut i = 0;
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| {
            i += 1;
            let (tenant, id) = data.key(i);
            let found = f(tenant, id);
            async move { assert!(found.await, "{name}: the row was not found") }
        });
    });
}

/// [`async_case`] for blocking code (sync diesel).
pub fn sync_case<F>(group: &mut BenchmarkGroup<'_, WallTime>, data: &Dataset, name: &str, f: F)
where
    F: Fn(Tenant, Uuid) -> bool,
{
    let mut i = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            let (tenant, id) = data.key(i);
            assert!(f(tenant, id), "{name}: the row was not found");
        });
    });
}
