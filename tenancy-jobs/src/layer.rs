//! [`TenantJobLayer`] and [`TenantJobService`].

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::task::Task;
use apalis_core::task::status::Status;
use tenancy_core::uuid::Uuid;
use tenancy_core::{AnyTenant, TenantIdType, TenantStore, TenantStoreExt};

use crate::{Envelope, JobRejected};

/// Runs every job of an apalis worker inside its tenant's
/// [`TenantContext`](tenancy_core::TenantContext) scope, or not at all.
///
/// For each job, the layer reads the tenant its envelope names (checking
/// the seal first for sealed envelopes), looks the tenant up in the store,
/// and runs the job only if the tenant exists and is active, inside its
/// scope: `TenantContext::current()` in the handler is that tenant, and a
/// `TenantPool::begin_current()` binds that tenant's transaction. A job
/// whose tenant does not exist, is suspended, or whose seal does not hold
/// fails with [`JobRejected`] and is not retried; when the store cannot
/// answer, the job is retried later. No job runs without a tenant or under
/// another. A job made while staff impersonated the tenant's user runs
/// impersonated by them ([`JobAddress`](crate::JobAddress)): what it writes
/// is trailed as their doing.
///
/// ```no_run
/// use apalis_core::error::BoxDynError;
/// use apalis_core::worker::builder::WorkerBuilder;
/// use tenancy_core::{InMemoryTenantStore, TenantContext, TenantJob};
/// use tenancy_jobs::TenantJobLayer;
///
/// async fn send_receipt(job: TenantJob<u64>) -> Result<(), BoxDynError> {
///     // Always the job's own tenant here.
///     let tenant = TenantContext::current()?;
///     println!("receipt {} for {}", job.payload(), tenant.slug());
///     Ok(())
/// }
///
/// # async fn run(pool: sqlx::PgPool) -> Result<(), BoxDynError> {
/// let backend = apalis_postgres::PostgresStorage::<TenantJob<u64>>::new(&pool);
/// let worker = WorkerBuilder::new("receipts")
///     .backend(backend)
///     .layer(TenantJobLayer::new(InMemoryTenantStore::new()))
///     .build(send_receipt);
/// worker.run().await?;
/// # Ok(())
/// # }
/// ```
pub struct TenantJobLayer<E, K: TenantIdType = Uuid>
where
    E: Envelope<K>,
{
    store: Arc<dyn TenantStore<K>>,
    keys: Arc<E::Keys>,
    _envelope: PhantomData<fn(E)>,
}

impl<P: Send + 'static, K: TenantIdType> TenantJobLayer<tenancy_core::TenantJob<P, K>, K> {
    /// Runs [`TenantJob`](tenancy_core::TenantJob)s in their tenant's
    /// scope, with tenants from `store`.
    ///
    /// A plain envelope is data: anyone who can write to the queue can
    /// change its tenant. Where the queue is not fully trusted, seal the
    /// envelopes ([`TenantJobLayer::sealed`], feature `sealed`).
    pub fn new(store: impl TenantStore<K>) -> Self {
        Self {
            store: Arc::new(store),
            keys: Arc::new(()),
            _envelope: PhantomData,
        }
    }
}

#[cfg(feature = "sealed")]
#[cfg_attr(docsrs, doc(cfg(feature = "sealed")))]
impl<K: TenantIdType> TenantJobLayer<tenancy_core::sealed_job::SealedJob<K>, K> {
    /// Runs [`SealedJob`](tenancy_core::sealed_job::SealedJob)s whose seal
    /// holds under `keys`, in their tenant's scope, with tenants from
    /// `store`. A job whose tenant or payload was changed after sealing is
    /// refused.
    pub fn sealed(store: impl TenantStore<K>, keys: tenancy_core::sealed_job::JobKeys) -> Self {
        Self {
            store: Arc::new(store),
            keys: Arc::new(keys),
            _envelope: PhantomData,
        }
    }
}

impl<E: Envelope<K>, K: TenantIdType> Clone for TenantJobLayer<E, K> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            keys: Arc::clone(&self.keys),
            _envelope: PhantomData,
        }
    }
}

impl<E: Envelope<K>, K: TenantIdType> std::fmt::Debug for TenantJobLayer<E, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantJobLayer")
            .field("envelope", &std::any::type_name::<E>())
            .finish_non_exhaustive()
    }
}

impl<S, E: Envelope<K>, K: TenantIdType> tower_layer::Layer<S> for TenantJobLayer<E, K> {
    type Service = TenantJobService<S, E, K>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantJobService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`TenantJobLayer`].
pub struct TenantJobService<S, E: Envelope<K>, K: TenantIdType = Uuid> {
    inner: S,
    layer: TenantJobLayer<E, K>,
}

impl<S: Clone, E: Envelope<K>, K: TenantIdType> Clone for TenantJobService<S, E, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, E: Envelope<K>, K: TenantIdType> std::fmt::Debug for TenantJobService<S, E, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantJobService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

/// The response future of [`TenantJobService`].
pub type TenantJobFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxDynError>> + Send>>;

impl<S, E, K> tower_service::Service<Task<E>> for TenantJobService<S, E, K>
where
    S: tower_service::Service<Task<E>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxDynError>,
    E: Envelope<K> + Sync,
    K: TenantIdType,
{
    type Response = S::Response;
    type Error = BoxDynError;
    type Future = TenantJobFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<E>) -> Self::Future {
        // The inner service was made ready for this call; a clone takes its
        // place for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            // The layer runs outside apalis's task lifecycle, which sets a
            // task's status only for tasks that reach the handler: a refused
            // task gets its status here.
            let tenant = match resolve(&layer, &task.args).await {
                Ok(tenant) => tenant,
                Err(rejected @ (JobRejected::StoreUnavailable(_) | JobRejected::Moving(_))) => {
                    task.ctx().raw_status().store(Status::Failed);
                    return Err(rejected.into());
                }
                Err(rejected) => {
                    task.ctx().raw_status().store(Status::Killed);
                    return Err(AbortError::new(rejected).into());
                }
            };
            tenant.scope(inner.call(task)).await.map_err(Into::into)
        })
    }
}

/// The active tenant `envelope` names, or why there is none.
async fn resolve<E: Envelope<K>, K: TenantIdType>(
    layer: &TenantJobLayer<E, K>,
    envelope: &E,
) -> Result<AnyTenant, JobRejected> {
    let address = envelope.address(&layer.keys)?;
    let id = address.tenant_id().clone();
    let shown = id.to_string();
    let tenant = layer
        .store
        .by_id(id)
        .await
        .map_err(JobRejected::StoreUnavailable)?
        .ok_or(JobRejected::UnknownTenant(shown))?;
    if tenant.is_moving() {
        return Err(JobRejected::Moving(tenant.id().to_string()));
    }
    if !tenant.is_active() {
        return Err(JobRejected::Inactive {
            tenant: tenant.id().to_string(),
            status: tenant.status(),
        });
    }
    Ok(AnyTenant::from(match address.impersonated_by() {
        Some(staff) => tenant.impersonated(staff),
        None => tenant,
    }))
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use tenancy_core::InMemoryTenantStore;
    use tower_layer::Layer;
    use tower_service::Service;

    use super::*;

    /// A worker service that is never ready, or failed.
    #[derive(Clone)]
    struct Inner(Option<&'static str>);

    impl Service<Task<tenancy_core::TenantJob<u32>>> for Inner {
        type Response = ();
        type Error = BoxDynError;
        type Future = std::future::Ready<Result<(), BoxDynError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
            match self.0 {
                None => Poll::Pending,
                Some(failure) => Poll::Ready(Err(failure.into())),
            }
        }

        fn call(&mut self, _: Task<tenancy_core::TenantJob<u32>>) -> Self::Future {
            std::future::ready(Ok(()))
        }
    }

    #[test]
    fn the_layer_is_as_ready_as_the_worker_it_wraps() {
        let layer = TenantJobLayer::new(InMemoryTenantStore::new());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(layer.layer(Inner(None)).poll_ready(&mut cx).is_pending());
        match layer.layer(Inner(Some("worker down"))).poll_ready(&mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "worker down"),
            other => panic!("{other:?}"),
        }
    }
}
