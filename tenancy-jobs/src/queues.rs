//! [`TenantQueues`]: enqueue a tenant's jobs on its tier's queue, fairly.

use apalis_core::backend::TaskSink;
use apalis_core::error::BoxDynError;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::metadata::MetadataStore;
use apalis_postgres::{Config, PostgresStorage};
use serde::Serialize;
use sqlx::PgPool;
use tenancy_core::{Tenant, TenantIdType, TenantJob};

use crate::TierQueues;

/// The metadata key under which each job names its tenant, for fairness.
pub const TENANT_METADATA: &str = "tenancy.tenant";

/// The priority of a tenant's first waiting job; each job it already has
/// waiting lowers the next one's by one.
const TOP_PRIORITY: usize = 1_000_000_000;

/// An error while enqueueing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// Counting the tenant's waiting jobs failed.
    #[error("enqueue: {0}")]
    Database(#[from] sqlx::Error),
    /// The queue refused the jobs (none of this call's jobs may be queued).
    #[error("enqueue: the queue refused the jobs: {0}")]
    Push(#[source] BoxDynError),
}

/// Enqueues tenants' jobs on apalis-postgres queues: on the queue of the
/// tenant's tier ([`TierQueues`]), and fairly between the tenants that share
/// a queue.
///
/// Fairness: apalis serves a queue by priority, then by age. A job's
/// priority is lower by one for each job its tenant already has waiting on
/// the queue, so the queue serves tenants in turns: every tenant's first
/// waiting job, then every tenant's second, and so on. One tenant that
/// enqueues 10,000 jobs delays another tenant's single job by at most one
/// job per tenant with jobs waiting, instead of by 10,000. (Two enqueues of
/// the same tenant at the same moment may share priorities: the turns are
/// approximate, never unfair by more than that.)
///
/// The tenant in the job's metadata ([`TENANT_METADATA`]) only orders the
/// queue; the worker's [`TenantJobLayer`](crate::TenantJobLayer) takes the
/// tenant from the envelope.
#[derive(Debug, Clone)]
pub struct TenantQueues {
    pool: PgPool,
    tiers: TierQueues,
}

impl TenantQueues {
    /// The index that counts a tenant's waiting jobs fast, on apalis's
    /// table (run after `PostgresStorage::setup`, as its owner; safe to run
    /// again).
    pub const SETUP_SQL: &'static str = "CREATE INDEX IF NOT EXISTS jobs_tenancy_tenant_waiting \
        ON apalis.jobs (job_type, (metadata -> 'tenancy.tenant')) \
        WHERE status IN ('Pending', 'Queued', 'Running', 'Failed')";

    /// Enqueues through `pool` (a role that may insert into apalis's
    /// tables), on the queues `tiers` names.
    pub fn new(pool: PgPool, tiers: TierQueues) -> Self {
        Self { pool, tiers }
    }

    /// Runs [`SETUP_SQL`](Self::SETUP_SQL).
    pub async fn setup(pool: &PgPool) -> Result<(), sqlx::Error> {
        sqlx::query(Self::SETUP_SQL).execute(pool).await.map(drop)
    }

    /// The tiers.
    pub fn tiers(&self) -> &TierQueues {
        &self.tiers
    }

    /// Enqueues a job for `tenant` with each of `payloads`, on its tier's
    /// queue, after the jobs it already has waiting there; returns the queue.
    pub async fn enqueue<P, K>(
        &self,
        tenant: &Tenant<K>,
        payloads: impl IntoIterator<Item = P>,
    ) -> Result<String, EnqueueError>
    where
        P: Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin + 'static,
        K: TenantIdType,
    {
        let queue = self.tiers.queue_for(tenant).into_owned();
        let id = tenant.id().to_string();
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM apalis.jobs \
             WHERE job_type = $1 AND metadata -> 'tenancy.tenant' = $2 \
               AND status IN ('Pending', 'Queued', 'Running', 'Failed')",
        )
        .bind(&queue)
        .bind(&id)
        .fetch_one(&self.pool)
        .await?;
        let waiting = usize::try_from(waiting).unwrap_or(TOP_PRIORITY);
        let mut metadata = MetadataStore::new();
        metadata
            .insert(TENANT_METADATA, id.as_str())
            .map_err(|e| EnqueueError::Push(e.into()))?;
        let tasks: Vec<_> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                TaskBuilder::new(TenantJob::for_tenant(tenant, payload))
                    .with_metadata(metadata.clone())
                    .priority(TOP_PRIORITY.saturating_sub(waiting.saturating_add(i)))
                    .build()
            })
            .collect();
        let mut storage = PostgresStorage::<TenantJob<P, K>>::new(&self.pool)
            .with_config(Config::default().queue(&queue));
        storage
            .push_all(futures_util::stream::iter(tasks))
            .await
            .map_err(|e| EnqueueError::Push(Box::new(e)))?;
        Ok(queue)
    }
}
