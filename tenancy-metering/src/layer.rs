//! [`MeterLayer`], [`MeterService`] and their [`MeterFuture`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{Request, Response};
use pin_project_lite::pin_project;
use tenancy_core::AnyTenant;
use tenancy_tower::{JsonRenderer, RenderRejection, TenantRejection};

use crate::UsageLedger;
use crate::route::{Route, Routes};

/// Meters every request per tenant: counts it in a [`UsageLedger`] and
/// exports `tenancy_requests_total` (labelled `tenant`, `route`, `status`)
/// and `tenancy_request_duration_seconds` (labelled `tenant`, `route`)
/// through the [`metrics`] facade, to whatever exporter the application
/// installed.
///
/// It goes **after** (inside) [`TenantLayer`](tenancy_tower::TenantLayer),
/// as the limit layers do, and reads the tenant it resolved. A request
/// without a resolved tenant means the layers are stacked in the wrong
/// order: it is answered 500, never served unmetered.
///
/// With axum, add both with `Router::layer` (the last added runs first), so
/// that the `route` label is the matched route's pattern:
///
/// ```
/// use axum::{Router, routing::get};
/// use tenancy_metering::{MeterLayer, TenantLabels, UsageLedger};
/// use tenancy_tower::TenantLayer;
/// use tenancy_tower::strategy::Header;
/// use tenancy_tower::tenancy_core::InMemoryTenantStore;
///
/// let ledger = UsageLedger::new(TenantLabels::top(100));
/// let app: Router = Router::new()
///     .route("/orders/{id}", get(|| async { "order" }))
///     .layer(MeterLayer::new(ledger.clone()))
///     .layer(
///         TenantLayer::builder(InMemoryTenantStore::new())
///             .strategy(Header::x_tenant())
///             .build(),
///     );
/// ```
#[derive(Clone)]
pub struct MeterLayer {
    ledger: UsageLedger,
    routes: Arc<Routes>,
    renderer: Arc<dyn RenderRejection>,
}

impl std::fmt::Debug for MeterLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterLayer")
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl MeterLayer {
    /// Meters into `ledger`.
    pub fn new(ledger: UsageLedger) -> Self {
        Self {
            ledger,
            routes: Arc::default(),
            renderer: Arc::new(JsonRenderer),
        }
    }

    /// Renders its 500 (no resolved tenant) with `renderer`, as the tenant
    /// layer's `render_rejections_with` does; pass the same renderer to
    /// both.
    #[must_use]
    pub fn render_rejections_with(self, renderer: impl RenderRejection) -> Self {
        Self {
            renderer: Arc::new(renderer),
            ..self
        }
    }
}

layer_service!(MeterLayer, MeterService);

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for MeterService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = MeterFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(tenant) = request.extensions().get::<AnyTenant>().cloned() else {
            return MeterFuture {
                state: State::Rejected {
                    response: Some(self.layer.renderer.render(&TenantRejection::LayerMissing)),
                },
            };
        };
        let route = self.layer.routes.of(&request);
        MeterFuture {
            state: State::Running {
                future: self.inner.call(request),
                meter: Some(Meter {
                    ledger: self.layer.ledger.clone(),
                    tenant,
                    route,
                    started: Instant::now(),
                    status: CLIENT_CLOSED,
                }),
            },
        }
    }
}

/// The status a request is metered with when its future is dropped before
/// the response (the client went away): nginx's "client closed request".
const CLIENT_CLOSED: u16 = 499;

/// What a running request is metered with; it records the request when
/// dropped, so that a cancelled request is counted too.
struct Meter {
    ledger: UsageLedger,
    tenant: AnyTenant,
    route: Route,
    started: Instant,
    status: u16,
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.ledger.request(
            &self.tenant,
            &self.route,
            self.status,
            self.started.elapsed(),
        );
    }
}

pin_project! {
    /// The response future of [`MeterService`].
    pub struct MeterFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Rejected { response: Option<Response<String>> },
        Running { #[pin] future: F, meter: Option<Meter> },
    }
}

impl<F> std::fmt::Debug for MeterFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeterFuture")
    }
}

impl<F, B, E> Future for MeterFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<String>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Rejected { response } => {
                let response = response.take().unwrap_or_else(|| {
                    let mut done = Response::new(String::new());
                    *done.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    done
                });
                Poll::Ready(Ok(response.map(B::from)))
            }
            StateProj::Running { future, meter } => {
                let output = ready!(future.poll(cx));
                if let Some(mut meter) = meter.take() {
                    // An error is the inner service failing, which the
                    // server answers 500.
                    meter.status = output
                        .as_ref()
                        .map_or(500, |response| response.status().as_u16());
                }
                Poll::Ready(output)
            }
        }
    }
}
