#![cfg(feature = "postgres")]
//! Tier queues and fairness on a real apalis-postgres queue: jobs go to
//! their tier's queue, and one tenant's burst of 10,000 jobs does not hold
//! up another tenant's single job (positions asserted, times printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis_core::backend::TaskSink;
use apalis_core::error::BoxDynError;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;
use tenancy_core::{
    InMemoryTenantStore, Tenant, TenantContext, TenantId, TenantJob, TenantSettings,
};
use tenancy_jobs::{TenantJobLayer, TenantQueues, TierQueues};
use tenancy_testing::TestDatabase;

struct World {
    _db: TestDatabase,
    pool: PgPool,
    store: InMemoryTenantStore,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    let pool = PgPool::connect(db.owner_url()).await.unwrap();
    PostgresStorage::setup(&pool).await.unwrap();
    TenantQueues::setup(&pool).await.unwrap();
    World {
        _db: db,
        pool,
        store: InMemoryTenantStore::new(),
    }
}

fn tenant(w: &World, slug: &str, plan: &str) -> Tenant {
    let t = Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
        .settings(TenantSettings::default().with_plan(plan))
        .build();
    w.store.insert(t.clone());
    t
}

fn tiers() -> TierQueues {
    TierQueues::new("shared")
        .plan("pro", "pro")
        .dedicated("enterprise", "enterprise")
}

/// The tenants of `queue`'s waiting jobs, in the order apalis fetches them
/// (its `get_jobs`: priority, then age).
async fn fetch_order(pool: &PgPool, queue: &str) -> Vec<String> {
    sqlx::query_as::<_, (Option<String>,)>(
        "SELECT convert_from(job, 'UTF8')::jsonb ->> 'tenant_id' FROM apalis.jobs \
         WHERE job_type = $1 AND status = 'Pending' ORDER BY priority DESC, run_at ASC",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(t,)| t.unwrap_or_default())
    .collect()
}

/// The tenants of the jobs served, in order.
type Seen = Arc<Mutex<Vec<String>>>;
/// Records the job's tenant; stops the worker after three jobs.
async fn record(
    _job: TenantJob<u32>,
    seen: apalis_core::task::data::Data<Seen>,
    worker: WorkerContext,
) -> Result<(), BoxDynError> {
    let tenant = TenantContext::current()?.slug().to_string();
    let mut seen = seen.lock().unwrap();
    seen.push(tenant);
    if seen.len() == 3 {
        worker.stop()?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn counting_a_tenants_waiting_jobs_can_use_the_setup_index() {
    let w = world().await;
    let mut conn = w.pool.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (plan,): (serde_json::Value,) = sqlx::query_as(
        "EXPLAIN (FORMAT JSON) SELECT count(*) FROM apalis.jobs \
         WHERE job_type = 'shared' AND metadata -> 'tenancy.tenant' = 'x' \
           AND status IN ('Pending', 'Queued', 'Running', 'Failed')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.to_string().contains("jobs_tenancy_tenant_waiting"),
        "{plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_go_to_their_tiers_queue() {
    let w = world().await;
    let queues = TenantQueues::new(w.pool.clone(), tiers());
    for (slug, plan, queue) in [
        ("cafe", "free", "shared"),
        ("bistro", "trial", "shared"),
        ("chain", "pro", "pro"),
        ("acme", "enterprise", "enterprise:acme"),
    ] {
        let t = tenant(&w, slug, plan);
        assert_eq!(queues.enqueue(&t, [1_u32]).await.unwrap(), queue);
        assert_eq!(
            fetch_order(&w.pool, queue).await.last(),
            Some(&t.id().to_string())
        );
    }
    assert_eq!(fetch_order(&w.pool, "shared").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_one_tenant_does_not_hold_up_another() {
    let w = world().await;
    let (noisy, quiet) = (tenant(&w, "noisy", "free"), tenant(&w, "quiet", "free"));
    let queues = TenantQueues::new(w.pool.clone(), tiers());

    // Without fairness (plain pushes), the quiet tenant's job waits behind
    // all 10,000.
    let mut plain = PostgresStorage::<TenantJob<u32>>::new(&w.pool)
        .with_config(Config::default().queue("plain"));
    let started = Instant::now();
    plain
        .push_bulk(
            (0..10_000)
                .map(|i| TenantJob::for_tenant(&noisy, i))
                .collect(),
        )
        .await
        .unwrap();
    let plain_took = started.elapsed();
    plain.push(TenantJob::for_tenant(&quiet, 0)).await.unwrap();
    let order = fetch_order(&w.pool, "plain").await;
    assert_eq!(
        order.iter().position(|t| *t == quiet.id().to_string()),
        Some(10_000)
    );

    // Fair: second, right after the noisy tenant's first job.
    let started = Instant::now();
    queues.enqueue(&noisy, 0..10_000_u32).await.unwrap();
    let fair_took = started.elapsed();
    queues.enqueue(&quiet, [0_u32]).await.unwrap();
    let order = fetch_order(&w.pool, "shared").await;
    assert_eq!(order.len(), 10_001);
    assert_eq!(
        order.iter().position(|t| *t == quiet.id().to_string()),
        Some(1)
    );
    // More of the noisy tenant's jobs go after the quiet one's.
    queues.enqueue(&noisy, [10_000_u32]).await.unwrap();
    assert_eq!(
        fetch_order(&w.pool, "shared")
            .await
            .iter()
            .position(|t| *t == quiet.id().to_string()),
        Some(1)
    );
    eprintln!(
        "enqueue of 10,000 jobs: {plain_took:?} plain (push_bulk), {fair_took:?} fair (TenantQueues::enqueue)"
    );

    // A real worker serves them in that order.
    let seen: Seen = Arc::default();
    let ctx = WorkerContext::new("shared-worker");
    let worker = WorkerBuilder::new(&ctx)
        .backend(
            PostgresStorage::<TenantJob<u32>>::new(&w.pool).with_config(
                Config::default()
                    .queue("shared")
                    .batch_size(1)
                    .heartbeat_interval(Duration::from_millis(200)),
            ),
        )
        .data(seen.clone())
        .layer(TenantJobLayer::new(w.store.clone()))
        .build(record);
    tokio::time::timeout(Duration::from_mins(1), worker.run())
        .await
        .expect("the worker served three jobs within a minute")
        .unwrap();
    assert_eq!(seen.lock().unwrap()[..3], ["noisy", "quiet", "noisy"]);
}
