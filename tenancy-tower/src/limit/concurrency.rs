//! [`TenantConcurrencyLimitLayer`]: requests in flight, per tenant.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response};
use tenancy_core::AnyTenant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_layer::Layer;
use tower_service::Service;

use super::key::LimitKey;
use super::{LimitFuture, misconfigured, too_many_requests};
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
    semaphores: Mutex<HashMap<LimitKey, Arc<Semaphore>>>,
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
    fn try_acquire(&self, tenant: &AnyTenant) -> Option<OwnedSemaphorePermit> {
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
            .entry(LimitKey::from(tenant))
            .or_insert_with(|| Arc::new(Semaphore::new(max as usize)))
            .clone();
        semaphore.try_acquire_owned().ok()
    }
}

impl<S> Layer<S> for TenantConcurrencyLimitLayer {
    type Service = TenantConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantConcurrencyLimit {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`TenantConcurrencyLimitLayer`].
#[derive(Debug, Clone)]
pub struct TenantConcurrencyLimit<S> {
    inner: S,
    state: Arc<State>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TenantConcurrencyLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = LimitFuture<S::Future, OwnedSemaphorePermit>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(tenant) = request.extensions().get::<AnyTenant>() else {
            return LimitFuture::rejected(misconfigured(&self.state.renderer));
        };
        match self.state.try_acquire(tenant) {
            Some(permit) => LimitFuture::running(self.inner.call(request), permit),
            None => LimitFuture::rejected(too_many_requests(&self.state.renderer, 1)),
        }
    }
}
