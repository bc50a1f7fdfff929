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
/// Generates, for a limit layer whose state has
/// `fn admit(&self, &AnyTenant) -> Result<Guard, u64>` (the guard to hold
/// while the request runs, or the seconds to wait), the layer's tower
/// `Layer` impl, its service type and the service's `Service` impl: a
/// request without a resolved tenant is a 500, one over the limit a 429
/// with `Retry-After`.
macro_rules! limit_service {
    ($layer:ident, $service:ident, $guard:ty) => {
        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    state: self.state.clone(),
                }
            }
        }

        #[doc = concat!("The service of [`", stringify!($layer), "`].")]
        #[derive(Debug, Clone)]
        pub struct $service<S> {
            inner: S,
            state: std::sync::Arc<State>,
        }

        impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for $service<S>
        where
            S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
            ResBody: From<String>,
        {
            type Response = http::Response<ResBody>;
            type Error = S::Error;
            type Future = $crate::limit::LimitFuture<S::Future, $guard>;

            fn poll_ready(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
                use $crate::limit::{LimitFuture, misconfigured, too_many_requests};
                let Some(tenant) = request.extensions().get::<tenancy_core::AnyTenant>() else {
                    return LimitFuture::rejected(misconfigured(&self.state.renderer));
                };
                match self.state.admit(tenant) {
                    Ok(guard) => LimitFuture::running(self.inner.call(request), guard),
                    Err(retry_after) => {
                        LimitFuture::rejected(too_many_requests(&self.state.renderer, retry_after))
                    }
                }
            }
        }
    };
}
pub(crate) use limit_service;

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
    /// A future that answers `response` at once (for per-tenant layers
    /// outside this crate, such as `tenancy-metering`'s quotas).
    pub fn rejected(response: Response<String>) -> Self {
        Self {
            state: LimitState::Rejected {
                response: Some(response),
            },
        }
    }

    /// A future that runs the inner service's `future`, holding `guard`
    /// until it is done or dropped.
    pub fn running(future: F, guard: G) -> Self {
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
