//! What tenant binding and row-level security cost in the database: tenant
//! transactions of `tenancy-sqlx` and `tenancy-diesel` against plain sqlx and
//! diesel with an explicit `WHERE tenant_id = $1`, policy cost on a large
//! table, and throughput under concurrency. Every baseline runs in the same
//! process, on the same server and data.
//!
//! `cargo bench -p tenancy-bench --bench database`; `TENANCY_BENCH_QUICK=1`
//! shrinks the data set and the measuring time for a smoke run. Under
//! `cargo test` every benchmark runs once, on the small data set.

mod cases;
mod concurrency;
mod dataset;
mod diesel_async_tx;
mod diesel_tx;
mod rls_cost;
mod schema;
mod sealed;
mod settings;
mod sqlx_tx;

fn main() {
    let settings = settings::Settings::from_env();
    let mut criterion = settings.criterion();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let data = dataset::Dataset::load(&rt, &settings);
    sqlx_tx::bench(&mut criterion, &rt, &data);
    diesel_tx::bench(&mut criterion, &data);
    diesel_async_tx::bench(&mut criterion, &rt, &data);
    rls_cost::bench(&mut criterion, &rt, &data, &settings);
    concurrency::bench(&mut criterion, &rt, &data);
    sealed::bench(&mut criterion, &rt, &data, &settings);
    criterion.final_summary();
    if settings.measuring {
        data.write_machine_notes();
    }
}
