#![cfg(feature = "postgres")]
//! A real apalis worker on PostgreSQL: each job runs in its own tenant's
//! scope and writes only that tenant's rows (through the application role,
//! under row-level security); a job for an unknown or suspended tenant, or
//! a forged sealed one, never runs; a moving tenant's job waits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis_core::backend::TaskSink;
use apalis_core::error::BoxDynError;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, PostgresStorage};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantContext, TenantId, TenantJob, TenantStatus};
use tenancy_jobs::TenantJobLayer;
use tenancy_sqlx::TenantPool;
use tenancy_testing::TestDatabase;

/// A nightly sales report: how many orders to count.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    night: u32,
}

struct World {
    db: TestDatabase,
    owner: PgPool,
    app: TenantPool,
    store: InMemoryTenantStore,
    a: Tenant,
    b: Tenant,
    suspended: Tenant,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    db.create_tenant_table("orders", "id int NOT NULL").unwrap();
    db.create_tenant_table("reports", "night int NOT NULL, orders bigint NOT NULL")
        .unwrap();
    let store = InMemoryTenantStore::new();
    let tenant = |slug: &str, status| {
        Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
            .status(status)
            .build()
    };
    let (a, b) = (
        tenant("a", TenantStatus::Active),
        tenant("b", TenantStatus::Active),
    );
    let suspended = tenant("s", TenantStatus::Suspended);
    for (t, orders) in [(&a, 3), (&b, 5), (&suspended, 7)] {
        store.insert(t.clone());
        db.owner_sql(&format!(
            "SET app.tenant_id = '{}'; INSERT INTO orders (id) SELECT g FROM generate_series(1, {orders}) g;",
            t.id()
        ))
        .unwrap();
    }
    // The queue's tables, as the database's owner (the worker's
    // infrastructure, not tenant data).
    let owner = PgPool::connect(db.owner_url()).await.unwrap();
    PostgresStorage::setup(&owner).await.unwrap();
    let app = TenantPool::new(PgPool::connect(db.app_url()).await.unwrap());
    World {
        db,
        owner,
        app,
        store,
        a,
        b,
        suspended,
    }
}

fn queue(owner: &PgPool, name: &str) -> PostgresStorage<TenantJob<Report>> {
    PostgresStorage::new(owner).with_config(config(name))
}

/// A queue whose results are written as each job ends (apalis buffers
/// them up to the batch size otherwise), with a short heartbeat (a worker
/// may wait for its first one before it fetches).
fn config(name: &str) -> Config {
    Config::default()
        .queue(name)
        .batch_size(1)
        .heartbeat_interval(Duration::from_millis(200))
}

/// What each handled job saw: (the tenant in scope, the envelope's tenant,
/// orders counted).
type Seen = Arc<Mutex<Vec<(String, String, i64)>>>;

/// The nightly report: counts the tenant's orders and writes a report row,
/// through the application role in the current tenant's transaction.
async fn nightly_report(
    job: TenantJob<Report>,
    pool: apalis_core::task::data::Data<TenantPool>,
    seen: apalis_core::task::data::Data<Seen>,
) -> Result<(), BoxDynError> {
    let tenant = TenantContext::current()?;
    let mut tx = pool.begin_current().await?;
    let (orders,): (i64,) = sqlx::query_as("SELECT count(*) FROM orders")
        .fetch_one(&mut tx)
        .await?;
    sqlx::query("INSERT INTO reports (night, orders) VALUES ($1, $2)")
        .bind(i32::try_from(job.payload().night)?)
        .bind(orders)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    seen.lock()
        .unwrap()
        .push((tenant.id().to_string(), job.tenant_id().to_string(), orders));
    Ok(())
}

/// Statuses of the queue's jobs (sorted), once `done` holds for them;
/// fails the test after 30 s.
async fn statuses_when(
    owner: &PgPool,
    queue: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    for _ in 0..600 {
        let statuses: Vec<String> = sqlx::query_scalar(
            "SELECT status FROM apalis.jobs WHERE job_type = $1 ORDER BY status",
        )
        .bind(queue)
        .fetch_all(owner)
        .await
        .unwrap();
        if done(&statuses) {
            return statuses;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT job_type, status, last_result::text FROM apalis.jobs")
            .fetch_all(owner)
            .await
            .unwrap();
    panic!("the jobs of {queue} did not get there in 30 s: {all:?}");
}

/// Statuses of the queue's jobs, once none is pending or running.
async fn settled(owner: &PgPool, queue: &str) -> Vec<String> {
    statuses_when(owner, queue, |statuses| {
        !statuses.is_empty()
            && statuses
                .iter()
                .all(|s| !["Pending", "Running", "Queued"].contains(&s.as_str()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn each_job_runs_in_its_own_tenant_and_bad_tenants_never_run() {
    let w = world().await;
    let mut jobs = queue(&w.owner, "reports");
    let seen: Seen = Arc::default();
    let ctx = WorkerContext::new("reports");
    let worker = WorkerBuilder::new(&ctx)
        .backend(jobs.clone().with_pubsub())
        .data(w.app.clone())
        .data(seen.clone())
        .layer(TenantJobLayer::new(w.store.clone()))
        .build(nightly_report);
    let running = tokio::spawn(worker.run());
    let ghost = Tenant::builder(TenantId::new_v4(), "ghost".parse().unwrap()).build();
    for tenant in [&w.a, &w.b, &ghost, &w.suspended] {
        jobs.push(TenantJob::for_tenant(tenant, Report { night: 1 }))
            .await
            .unwrap();
    }
    let statuses = settled(&w.owner, "reports").await;
    ctx.stop().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;

    // Two ran, each in its own tenant, and counted only its own orders.
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    let mut expected = vec![
        (w.a.id().to_string(), w.a.id().to_string(), 3),
        (w.b.id().to_string(), w.b.id().to_string(), 5),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // The other two were refused for good (not retried).
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    assert_eq!(statuses, ["Done", "Done", "Killed", "Killed"]);
    // Each report row belongs to its tenant, and no row was written for the
    // suspended tenant or without a tenant.
    let reports =
        w.db.admin_sql("SELECT tenant_id, orders FROM reports ORDER BY orders")
            .unwrap();
    assert_eq!(
        reports.trim(),
        format!("{}|3\n{}|5", w.a.id(), w.b.id()),
        "{reports}"
    );
}

/// Who acted in each handled job: (the tenant in scope, the staff member
/// impersonating its user, if one was).
type Acting = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Records who acts in the job's scope, as the activity trail reads it.
async fn record_acting(
    _: TenantJob<Report>,
    acting: apalis_core::task::data::Data<Acting>,
) -> Result<(), BoxDynError> {
    let tenant = TenantContext::current()?;
    acting.lock().unwrap().push((
        tenant.slug().to_string(),
        tenant.impersonated_by().map(str::to_owned),
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_queued_while_impersonated_runs_impersonated() {
    let w = world().await;
    let mut jobs = queue(&w.owner, "acting");
    let acting: Acting = Arc::default();
    let ctx = WorkerContext::new("acting");
    let worker = WorkerBuilder::new(&ctx)
        .backend(jobs.clone().with_pubsub())
        .data(acting.clone())
        .layer(TenantJobLayer::new(w.store.clone()))
        .build(record_acting);
    let running = tokio::spawn(worker.run());
    // Queued in a request where staff acted as a's user, and in b's own.
    for tenant in [w.a.impersonated("jane@staff"), w.b.clone()] {
        jobs.push(TenantJob::for_tenant(&tenant, Report { night: 1 }))
            .await
            .unwrap();
    }
    assert_eq!(settled(&w.owner, "acting").await, ["Done", "Done"]);
    ctx.stop().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
    let mut acting = acting.lock().unwrap().clone();
    acting.sort();
    assert_eq!(
        acting,
        [
            ("a".to_owned(), Some("jane@staff".to_owned())),
            ("b".to_owned(), None)
        ]
    );
}

/// The report of a sealed job: opens it (the layer checked the seal, the
/// handler needs the payload) and writes in the current tenant.
#[cfg(feature = "sealed")]
async fn sealed_report(
    job: tenancy_core::sealed_job::SealedJob,
    keys: apalis_core::task::data::Data<Arc<tenancy_core::sealed_job::JobKeys>>,
    pool: apalis_core::task::data::Data<TenantPool>,
) -> Result<(), BoxDynError> {
    let job: TenantJob<Report> = keys.open(&job)?;
    // A job run impersonated writes -1 orders, so the test sees the mark.
    let impersonated = TenantContext::current()?.impersonated_by().is_some();
    let mut tx = pool.begin_current().await?;
    sqlx::query(
        "INSERT INTO reports (night, orders) \
         SELECT $1, CASE WHEN $2 THEN -1 ELSE count(*) END FROM orders",
    )
    .bind(i32::try_from(job.payload().night)?)
    .bind(impersonated)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(feature = "sealed")]
#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_job_runs_only_while_its_seal_holds() {
    use tenancy_core::sealed_job::{JobKeys, SealedJob};

    let w = world().await;
    let keys = JobKeys::new("k1", &[7; 32]).unwrap();
    let sealed = keys
        .seal(&TenantJob::for_tenant(&w.a, Report { night: 2 }))
        .unwrap();
    // The same envelope pointed at tenant b, and with another payload.
    let mut wire = serde_json::to_value(&sealed).unwrap();
    wire["tenant_id"] = w.b.id().to_string().into();
    let moved: SealedJob = serde_json::from_value(wire).unwrap();
    let mut wire = serde_json::to_value(&sealed).unwrap();
    wire["payload"] = r#"{"night":3}"#.into();
    let changed: SealedJob = serde_json::from_value(wire).unwrap();
    // Queued while staff impersonated a's user, and the same with the mark
    // taken off in the queue.
    let impersonated = keys
        .seal(&TenantJob::for_tenant(
            &w.a.impersonated("jane@staff"),
            Report { night: 4 },
        ))
        .unwrap();
    let mut wire = serde_json::to_value(&impersonated).unwrap();
    wire.as_object_mut().unwrap().remove("impersonated_by");
    let unmarked: SealedJob = serde_json::from_value(wire).unwrap();
    let mut jobs = PostgresStorage::<SealedJob>::new(&w.owner).with_config(config("sealed"));

    let ctx = WorkerContext::new("sealed");
    let worker = WorkerBuilder::new(&ctx)
        .backend(jobs.clone().with_pubsub())
        .data(Arc::new(keys.clone()))
        .data(w.app.clone())
        .layer(TenantJobLayer::sealed(w.store.clone(), keys))
        .build(sealed_report);
    let running = tokio::spawn(worker.run());
    for job in [sealed, moved, changed, impersonated, unmarked] {
        jobs.push(job).await.unwrap();
    }
    let statuses = settled(&w.owner, "sealed").await;
    ctx.stop().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
    assert_eq!(statuses, ["Done", "Done", "Killed", "Killed", "Killed"]);
    let refused: Vec<(String,)> = sqlx::query_as(
        "SELECT last_result::text FROM apalis.jobs WHERE job_type = 'sealed' AND status = 'Killed'",
    )
    .fetch_all(&w.owner)
    .await
    .unwrap();
    for (result,) in refused {
        assert!(result.contains("seal"), "{result}");
    }
    // The impersonated job ran impersonated: its row says so.
    let reports =
        w.db.admin_sql("SELECT tenant_id, night, orders FROM reports ORDER BY night")
            .unwrap();
    assert_eq!(
        reports.trim(),
        format!("{a}|2|3\n{a}|4|-1", a = w.a.id()),
        "{reports}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moving_tenants_job_waits_and_runs_once_the_move_is_done() {
    let w = world().await;
    let moving = w.a.to_builder().status(TenantStatus::Moving).build();
    w.store.insert(moving);
    let mut jobs = queue(&w.owner, "moving");
    let seen: Seen = Arc::default();
    let ctx = WorkerContext::new("moving");
    let worker = WorkerBuilder::new(&ctx)
        .backend(jobs.clone().with_pubsub())
        .data(w.app.clone())
        .data(seen.clone())
        .layer(TenantJobLayer::new(w.store.clone()))
        .build(nightly_report);
    let running = tokio::spawn(worker.run());
    jobs.push(TenantJob::for_tenant(&w.a, Report { night: 4 }))
        .await
        .unwrap();
    // Neither run nor refused for good (Killed): failed, to be retried.
    statuses_when(&w.owner, "moving", |s| s == ["Failed"]).await;
    assert!(seen.lock().unwrap().is_empty());

    // The move is done: the tenant is active again, and the job runs.
    w.store.insert(w.a.clone());
    let statuses = statuses_when(&w.owner, "moving", |s| s == ["Done"] || s == ["Killed"]).await;
    ctx.stop().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), running).await;
    assert_eq!(statuses, ["Done"]);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
