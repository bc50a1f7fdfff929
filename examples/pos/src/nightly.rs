//! The nightly sales report: a background job per tenant on apalis, sent
//! to its tier's queue and run in its tenant's scope.
//!
//! Pro tenants share the queue `pos:pro`, every other plan (the trial)
//! the queue `pos:shared`, where tenants are served in turns. Each job
//! counts its tenant's orders and writes one `sales_reports` row through
//! the scoped builders, in a tenant transaction of the runtime role. The
//! queue itself is reached through the role `pos_jobs`, never through the
//! runtime role.

use std::error::Error;
use std::time::Duration;

use apalis_core::error::BoxDynError;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_postgres::{Config, PostgresStorage};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Tenant, TenantJob};
use tenancy_jobs::{TenantJobLayer, TenantQueues, TierQueues};
use tenancy_sqlx::{PgTenantStore, Scoped, TenantPool};

use crate::api::{Order, Orders};
use crate::db::{JOBS_ROLE, role_password};
use crate::{Database, SetupError};

tenancy_sqlx::tenant_table!(
    /// The `sales_reports` table: one row per tenant and night.
    pub SalesReports = "sales_reports" {
        night: String,
        orders: i64,
        total_cents: i64,
    }
);

/// A nightly report, as its row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SalesReport {
    /// The night, as `YYYY-MM-DD`.
    pub night: String,
    /// The tenant.
    pub tenant_id: uuid::Uuid,
    /// Orders counted.
    pub orders: i64,
    /// Their total.
    pub total_cents: i64,
}

/// The job's payload: which night to report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NightlyReport {
    /// The night, as `YYYY-MM-DD`.
    pub night: String,
}

/// The POS's tiers: pro tenants on their queue, everyone else shared.
pub fn tiers() -> TierQueues {
    TierQueues::new("pos:shared").plan("pro", "pos:pro")
}

/// The job: counts the current tenant's orders and writes its report.
async fn nightly_report(
    job: TenantJob<NightlyReport>,
    pool: Data<TenantPool>,
) -> Result<(), BoxDynError> {
    let mut tx = pool.begin_current().await?;
    let orders: Vec<Order> = Scoped::<Orders>::select()
        .for_current_tenant()?
        .fetch_all(&mut tx)
        .await?;
    Scoped::<SalesReports>::insert()
        .value(SalesReports::night, job.payload().night.clone())
        .value(SalesReports::orders, i64::try_from(orders.len())?)
        .value(
            SalesReports::total_cents,
            orders.iter().map(|o| o.total_cents).sum::<i64>(),
        )
        .for_current_tenant()?
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The job queue, through the role [`JOBS_ROLE`].
#[derive(Debug)]
pub struct Jobs {
    pool: PgPool,
    queues: TenantQueues,
    /// When this run began (whole seconds, as apalis stamps jobs): the
    /// jobs of earlier runs on the same database are not this run's.
    since: i64,
}

/// How the jobs of a queue ended: `(queue, status)` per job, by queue.
pub type Statuses = Vec<(String, String)>;

impl Jobs {
    /// Connects to `db`'s queue as [`JOBS_ROLE`].
    pub async fn connect(db: &Database) -> Result<Self, SetupError> {
        let options = (*db.admin.connect_options())
            .clone()
            .username(JOBS_ROLE)
            .password(&role_password());
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let since = sqlx::query_scalar("SELECT floor(extract(epoch FROM now()))::int8")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            queues: TenantQueues::new(pool.clone(), tiers()),
            pool,
            since,
        })
    }

    /// Enqueues `night`'s report for `tenant` on its tier's queue; returns
    /// the queue.
    pub async fn enqueue(&self, tenant: &Tenant, night: &str) -> Result<String, Box<dyn Error>> {
        let night = night.to_owned();
        Ok(self
            .queues
            .enqueue(tenant, [NightlyReport { night }])
            .await?)
    }

    /// Runs a worker on each of `queues` until every job on them has ended
    /// (at most 30 s), with tenants from `directory`, tenant transactions
    /// from `pool`; returns how each job ended.
    pub async fn work(
        &self,
        queues: &[&str],
        directory: PgTenantStore,
        pool: TenantPool,
    ) -> Result<Statuses, Box<dyn Error>> {
        let mut running = Vec::new();
        for queue in queues {
            let ctx = WorkerContext::new(queue);
            let backend = PostgresStorage::<TenantJob<NightlyReport>>::new(&self.pool).with_config(
                Config::default()
                    .queue(*queue)
                    // Results are written as each job ends, and the first
                    // fetch does not wait for a 30 s heartbeat.
                    .batch_size(1)
                    .heartbeat_interval(Duration::from_millis(200)),
            );
            let worker = WorkerBuilder::new(&ctx)
                .backend(backend)
                .data(pool.clone())
                .layer(TenantJobLayer::new(directory.clone()))
                .build(nightly_report);
            running.push((ctx, tokio::spawn(worker.run())));
        }
        let statuses = self.settle(queues).await;
        for (ctx, task) in running {
            let _ = ctx.stop();
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        statuses
    }

    /// The statuses of `queues`' jobs once none is waiting or running.
    async fn settle(&self, queues: &[&str]) -> Result<Statuses, Box<dyn Error>> {
        let queues: Vec<String> = queues.iter().map(|q| (*q).to_owned()).collect();
        for _ in 0..300 {
            let statuses: Statuses = sqlx::query_as(
                "SELECT job_type, status FROM apalis.jobs \
                 WHERE job_type = ANY($1) AND run_at >= to_timestamp($2) \
                 ORDER BY job_type, status",
            )
            .bind(&queues)
            .bind(self.since)
            .fetch_all(&self.pool)
            .await?;
            if statuses
                .iter()
                .all(|(_, s)| !matches!(s.as_str(), "Pending" | "Queued" | "Running"))
            {
                return Ok(statuses);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the nightly jobs did not end within 30 s".into())
    }

    /// Closes the queue's pool.
    pub async fn close(self) {
        self.pool.close().await;
    }
}
