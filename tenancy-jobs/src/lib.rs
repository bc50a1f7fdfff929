//! Background jobs that run in their tenant's scope or not at all, for
//! [apalis](https://docs.rs/apalis) workers.
//!
//! A request that queues work for later loses its tenant when the request
//! ends: the job must carry it. [`TenantJob`](tenancy_core::TenantJob)
//! envelopes carry the tenant's id with the payload (sealed with an HMAC
//! when the queue is not fully trusted, feature `sealed`), and
//! [`TenantJobLayer`] on the worker resolves that tenant, refuses jobs
//! whose tenant is unknown, suspended or forged, and runs the rest inside
//! the tenant's scope, where `TenantContext::current()` and
//! `TenantPool::begin_current()` are that tenant's.
//!
//! [`TierQueues`] sends each tenant's jobs to its tier's queue (a shared
//! queue for the free plan, a queue per paid plan, a queue per tenant for
//! dedicated plans), and [`TenantQueues`] (feature `postgres`, on by
//! default) enqueues them so that tenants sharing a queue are served in
//! turns: one tenant's 10,000 jobs do not hold up another tenant's one.
//!
//! The queue's tables are not tenant tables: they hold every tenant's jobs.
//! Reach them through a role of their own (the workers' and the
//! producers'), not through the application role that serves tenant
//! requests, or a raw `SELECT` in one tenant's transaction could read
//! another tenant's job payloads. Where the queue itself is not trusted,
//! seal the envelopes: a forged tenant id then fails the seal.
//!
//! ```no_run
//! use apalis_core::backend::TaskSink;
//! use tenancy_core::{TenantContext, TenantJob};
//!
//! # async fn enqueue(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
//! // In a request handler, inside the request's tenant scope:
//! let mut queue = apalis_postgres::PostgresStorage::<TenantJob<u64>>::new(&pool);
//! queue.push(TenantJob::new(42)?).await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod envelope;
mod error;
mod layer;
#[cfg(feature = "postgres")]
mod queues;
mod tiers;

pub use envelope::{Envelope, JobAddress};
pub use error::JobRejected;
pub use layer::{TenantJobFuture, TenantJobLayer, TenantJobService};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use queues::{EnqueueError, TENANT_METADATA, TenantQueues};
pub use tiers::TierQueues;
