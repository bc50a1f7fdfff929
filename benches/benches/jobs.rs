//! Fair queues: how long one tenant's single job waits behind another
//! tenant's burst, on a real apalis-postgres queue with a real worker.
//!
//! Two runs on the same server, each on a queue of its own: `plain` pushes
//! the burst with apalis's `push_bulk`, `fair` enqueues it with
//! `TenantQueues::enqueue`. Then the quiet tenant enqueues one job, and a
//! worker (through `TenantJobLayer`, 100 jobs per fetch) serves the queue
//! until that job ran. Written to `target/tenancy-bench/fairness.json` for
//! `BENCHMARKS.md`.
//!
//! `cargo bench -p tenancy-bench --bench jobs`: a burst of 10,000 jobs.
//! Under `cargo test`, a burst of 300.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis_core::backend::TaskSink;
use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantContext, TenantId, TenantJob};
use tenancy_jobs::{TenantJobLayer, TenantQueues, TierQueues};

/// What the worker saw: jobs served, and when the quiet tenant's ran.
#[derive(Default)]
struct Served {
    jobs: usize,
    quiet_at: Option<(usize, Instant)>,
}

type Shared = Arc<Mutex<Served>>;

/// Jobs per fetch: the worker runs a fetched batch concurrently, so the
/// quiet job is fair when it is in the first batch.
const BATCH: usize = 100;

/// Counts the job; stops the worker once the quiet tenant's job ran.
async fn serve(
    _job: TenantJob<u32>,
    served: Data<Shared>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    let quiet = TenantContext::current()?.slug().as_str() == "quiet";
    let mut served = served.lock().map_err(|_| "poisoned")?;
    served.jobs += 1;
    if quiet {
        served.quiet_at = Some((served.jobs - 1, Instant::now()));
        worker.stop()?;
    }
    Ok(())
}

/// Enqueues `jobs` of `tenant` on `queue`, fairly or with a plain push.
async fn enqueue(
    pool: &PgPool,
    queue: &str,
    fair: bool,
    tenant: &Tenant,
    jobs: std::ops::Range<u32>,
) {
    if fair {
        TenantQueues::new(pool.clone(), TierQueues::new(queue))
            .enqueue(tenant, jobs)
            .await
            .expect("fair enqueue");
    } else {
        PostgresStorage::<TenantJob<u32>>::new(pool)
            .with_config(Config::default().queue(queue))
            .push_bulk(jobs.map(|i| TenantJob::for_tenant(tenant, i)).collect())
            .await
            .expect("plain push");
    }
}

/// One run: the burst, the quiet job, the worker. Returns its figures.
async fn run(
    pool: &PgPool,
    store: &InMemoryTenantStore,
    (noisy, quiet): (&Tenant, &Tenant),
    burst: u32,
    fair: bool,
) -> serde_json::Value {
    let queue = if fair { "shared" } else { "plain" };
    let started = Instant::now();
    enqueue(pool, queue, fair, noisy, 0..burst).await;
    let enqueue_took = started.elapsed();
    let served: Shared = Arc::default();
    let ctx = WorkerContext::new(queue);
    let worker = WorkerBuilder::new(&ctx)
        .backend(
            PostgresStorage::<TenantJob<u32>>::new(pool).with_config(
                Config::default()
                    .queue(queue)
                    .batch_size(BATCH)
                    .heartbeat_interval(Duration::from_millis(200)),
            ),
        )
        .data(served.clone())
        .layer(TenantJobLayer::new(store.clone()))
        .build(serve);
    let enqueued = Instant::now();
    enqueue(pool, queue, fair, quiet, 0..1).await;
    tokio::time::timeout(Duration::from_mins(10), worker.run())
        .await
        .expect("the quiet job ran within 10 minutes")
        .expect("the worker ran");
    let served = served.lock().expect("not poisoned");
    let (before, at) = served
        .quiet_at
        .expect("the worker stopped at the quiet job");
    if fair {
        // Not a timing assertion: the order is the property.
        assert!(before < BATCH, "fair: {before} jobs before the quiet one");
    }
    serde_json::json!({
        "enqueue_ms": enqueue_took.as_secs_f64() * 1e3,
        "jobs_before": before,
        "wait_ms": at.duration_since(enqueued).as_secs_f64() * 1e3,
    })
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let burst: u32 = if measuring { 10_000 } else { 300 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let db = tenancy_testing::test_database();
    let figures = rt.block_on(async {
        let pool = PgPool::connect(db.owner_url()).await.expect("a pool");
        PostgresStorage::setup(&pool).await.expect("apalis tables");
        TenantQueues::setup(&pool)
            .await
            .expect("the fairness index");
        let store = InMemoryTenantStore::new();
        let tenant = |slug: &str| {
            let t = Tenant::builder(TenantId::new_v4(), slug.parse().expect("a slug")).build();
            store.insert(t.clone());
            t
        };
        let (noisy, quiet) = (tenant("noisy"), tenant("quiet"));
        let plain = run(&pool, &store, (&noisy, &quiet), burst, false).await;
        let fair = run(&pool, &store, (&noisy, &quiet), burst, true).await;
        serde_json::json!({ "burst": burst, "plain": plain, "fair": fair })
    });
    println!("fairness: {figures}");
    if measuring {
        let dir = tenancy_bench::output_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("fairness.json"), figures.to_string());
    }
}
