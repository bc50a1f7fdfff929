//! [`TenantConcurrencyLimitLayer`]: requests in flight, per tenant.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use tenancy_core::{AnyTenant, AnyTenantId};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::rejection::{RenderRejection, Renderer};

/// At most N requests of one tenant in flight at once (the tenant's
/// `max_concurrent_requests`, or the layer default); the next one gets 429
/// right away instead of queueing behind a noisy neighbour.
///
/// The permit is held until the inner service's response future completes
/// (not while a streamed body is sent). A tenant's limit is read when its
/// first request arrives; a changed limit applies after a restart.
#[derive(Debug, Clone)]
pub struct TenantConcurrencyLimitLayer {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    renderer: Renderer,
    max: NonZeroU32,
    semaphores: Mutex<HashMap<AnyTenantId, Arc<Semaphore>>>,
}

impl TenantConcurrencyLimitLayer {
    /// At most `max` requests per tenant in flight by default.
    pub fn new(max: NonZeroU32) -> Self {
        Self {
            state: Arc::new(State {
                renderer: Renderer::default(),
                max,
                semaphores: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Renders its 429 (and the 500 when no tenant was resolved) with
    /// `renderer`, as [`TenantLayerBuilder::render_rejections_with`](crate::TenantLayerBuilder::render_rejections_with)
    /// does for the tenant layer; pass the same renderer to both.
    #[must_use]
    pub fn render_rejections_with(self, renderer: impl RenderRejection) -> Self {
        Self {
            state: Arc::new(State {
                renderer: Renderer(Arc::new(renderer)),
                max: self.state.max,
                semaphores: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl State {
    /// A permit of `tenant`'s semaphore, or 1 second to wait.
    fn admit(&self, tenant: &AnyTenant) -> Result<OwnedSemaphorePermit, u64> {
        let max = tenant
            .settings()
            .limits
            .max_concurrent_requests
            .unwrap_or(self.max.get())
            .max(1);
        let semaphore = self
            .semaphores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(AnyTenantId::from(tenant))
            .or_insert_with(|| Arc::new(Semaphore::new(max as usize)))
            .clone();
        semaphore.try_acquire_owned().map_err(|_| 1)
    }
}

super::limit_service!(
    TenantConcurrencyLimitLayer,
    TenantConcurrencyLimit,
    OwnedSemaphorePermit
);
