//! Per-tenant limits against noisy neighbours.
//!
//! Both layers go **after** (inside) [`TenantLayer`](crate::TenantLayer):
//! they read the [`Tenant`](tenancy_core::Tenant) it put into the request
//! extensions, and take the tenant's own limits from its
//! [`TenantLimits`](tenancy_core::TenantLimits) (for example by plan), with
//! the layer's values as defaults. Over the limit, the answer is
//! `429 Too Many Requests` with `Retry-After` and a JSON reason.
//!
//! A request without a resolved tenant means the layers are stacked in the
//! wrong order: they answer 500 with a message saying so, rather than let
//! the request through unlimited.

mod concurrency;
mod key;
mod rate;

use std::pin::Pin;
use std::task::{Context, Poll};

pub use concurrency::{TenantConcurrencyLimit, TenantConcurrencyLimitLayer};
use http::Response;
use pin_project_lite::pin_project;
pub use rate::{TenantRateLimit, TenantRateLimitLayer};

use crate::TenantRejection;
use crate::rejection::Renderer;

/// 429 with `Retry-After` (whole seconds, at least 1), through `renderer`.
pub(crate) fn too_many_requests(renderer: &Renderer, retry_after_secs: u64) -> Response<String> {
    renderer.render(&TenantRejection::RateLimited {
        retry_after_secs: retry_after_secs.max(1),
    })
}

/// 500: the limit layer sits outside the tenant layer.
pub(crate) fn misconfigured(renderer: &Renderer) -> Response<String> {
    renderer.render(&TenantRejection::LayerMissing)
}

pin_project! {
    /// The response future of the limit layers: either an immediate
    /// rejection or the inner service's future (holding what must live as
    /// long as the request, such as a concurrency permit).
    pub struct LimitFuture<F, G> {
        #[pin]
        state: LimitState<F, G>,
    }
}

pin_project! {
    #[project = LimitProj]
    enum LimitState<F, G> {
        Rejected { response: Option<Response<String>> },
        Running { #[pin] future: F, guard: G },
    }
}

impl<F, G> LimitFuture<F, G> {
    pub(crate) fn rejected(response: Response<String>) -> Self {
        Self {
            state: LimitState::Rejected {
                response: Some(response),
            },
        }
    }

    pub(crate) fn running(future: F, guard: G) -> Self {
        Self {
            state: LimitState::Running { future, guard },
        }
    }
}

impl<F, G> std::fmt::Debug for LimitFuture<F, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LimitFuture")
    }
}

impl<F, G, B, E> std::future::Future for LimitFuture<F, G>
where
    F: std::future::Future<Output = Result<Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            LimitProj::Rejected { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response.map(B::from))),
                None => unreachable!("a rejection is returned once"),
            },
            LimitProj::Running { future, .. } => future.poll(cx),
        }
    }
}
