//! [`TenantLayer`], [`TenantService`] and their [`ResponseFuture`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tenancy_core::uuid::Uuid;
use tenancy_core::{AnyTenant, Tenant, TenantContextOf, TenantIdType, TenantStore};
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;

use crate::TenantRejection;
use crate::rejection::{JsonRenderer, RenderRejection, SharedRenderer, render_with};
use crate::resolver::{ResolutionMode, Resolver};
use crate::strategy::{ReadClaim, Strategy, TenantClaim, TokenClaim};

/// Resolves the tenant of every request before the inner service runs.
///
/// For each request the layer finds the tenant's name with the configured
/// [strategies](crate::strategy), looks it up in the [`TenantStore`],
/// verifies it (active, and the same tenant the token belongs to) and then
///
/// - inserts the [`Tenant`] into the request extensions, and
/// - runs the inner service inside [`TenantContext::scope`](tenancy_core::TenantContextOf::scope), with a
///   `tenant` tracing span carrying `tenant.id` (when a tracing subscriber
///   is set and wants the span), and records `tenant.id` into the current
///   span if that declared the field.
///
/// Otherwise the inner service does not run: the client gets the
/// [`TenantRejection`](crate::TenantRejection)'s status and a JSON reason.
/// Rejections are responses (`Ok`), never service errors, so the layer fits
/// axum as is.
///
/// # Cost
///
/// When the store answers from memory ([`TenantStore::lookup_now`]: a
/// [`CachedTenantStore`](tenancy_core::CachedTenantStore) hit, an
/// [`InMemoryTenantStore`](tenancy_core::InMemoryTenantStore)), the tenant
/// is resolved inside `call` and the inner service is called at once: the
/// only heap allocation the layer adds is the tenant in the request
/// extensions. Otherwise the lookup is awaited in a boxed future. Wrap a
/// database-backed store in a `CachedTenantStore`. BENCHMARKS.md has the
/// time it adds per request, and where that time goes.
///
/// ```
/// use tenancy_core::InMemoryTenantStore;
/// use tenancy_tower::{TenantLayer, strategy::{Header, Subdomain}};
///
/// let store = InMemoryTenantStore::new();
/// let layer = TenantLayer::builder(store)
///     .strategy(Subdomain::of("example.com"))
///     .strategy(Header::x_tenant())
///     .build();
/// ```
pub struct TenantLayer<K = Uuid> {
    shared: Arc<Shared<K>>,
}

/// What every clone of the layer and its services shares, behind one `Arc`:
/// axum clones the service for each request.
struct Shared<K> {
    resolver: Resolver<K>,
    renderer: SharedRenderer,
}

impl<K> Clone for TenantLayer<K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<K: TenantIdType> fmt::Debug for TenantLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantLayer")
            .field(
                "strategies",
                &self
                    .shared
                    .resolver
                    .strategies
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>(),
            )
            .field("mode", &self.shared.resolver.mode)
            .field("token_claim", &self.shared.resolver.claim.is_some())
            .field("require_token", &self.shared.resolver.require_token)
            .finish_non_exhaustive()
    }
}

impl<K: TenantIdType> TenantLayer<K> {
    /// Starts configuring a layer that looks tenants up in `store`.
    pub fn builder(store: impl TenantStore<K>) -> TenantLayerBuilder<K> {
        TenantLayerBuilder {
            strategies: Vec::new(),
            mode: ResolutionMode::default(),
            claim: None,
            require_token: false,
            token_only: false,
            store: Arc::new(store),
            renderer: Arc::new(JsonRenderer),
        }
    }

    /// Resolves and verifies the tenant of a request without tower, for
    /// other frameworks: the same strategies, cross-checks, store and
    /// renderer as the layer. `Ok` is the tenant to run the request for
    /// (put it into the framework's request data and run the handler in
    /// [`TenantContextOf::scope`]); `Err` is the rendered rejection (status,
    /// headers, body) to send instead of running the handler. A strategy
    /// that rewrites the request (a stripped path prefix) rewrites `parts`.
    ///
    /// ```
    /// use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
    /// use tenancy_tower::{TenantLayer, strategy::Header};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = InMemoryTenantStore::new();
    /// store.insert(Tenant::builder(TenantId::new_v4(), "acme".parse()?).build());
    /// let layer = TenantLayer::builder(store).strategy(Header::x_tenant()).build();
    ///
    /// // Whatever framework received the request, give its head as http parts:
    /// let (mut parts, ()) = http::Request::get("/orders").header("x-tenant", "acme").body(())?.into_parts();
    /// let tenant = layer.resolve(&mut parts).await.expect("acme is known");
    /// assert_eq!(tenant.slug().as_str(), "acme");
    ///
    /// let (mut parts, ()) = http::Request::get("/orders").header("x-tenant", "ghost").body(())?.into_parts();
    /// let rejection = layer.resolve(&mut parts).await.unwrap_err();
    /// assert_eq!(rejection.status(), http::StatusCode::NOT_FOUND);
    /// # Ok(()) }
    /// ```
    pub async fn resolve(&self, parts: &mut Parts) -> Result<Tenant<K>, Response<String>> {
        let resolver = &self.shared.resolver;
        let result = match resolver.resolve_now(parts) {
            Some(result) => result,
            None => resolver.resolve(parts).await,
        };
        result.map_err(|rejection| self.render_rejection(&rejection))
    }

    /// Renders `rejection` with this layer's renderer (and logs it), as the
    /// layer answers: for adapters that refuse a request before
    /// [`resolve`](Self::resolve) can read it.
    pub fn render_rejection(&self, rejection: &TenantRejection) -> Response<String> {
        render_with(&*self.shared.renderer, rejection)
    }
}

impl<S, K> Layer<S> for TenantLayer<K> {
    type Service = TenantService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Configures a [`TenantLayer`]; see [`TenantLayer::builder`].
pub struct TenantLayerBuilder<K = Uuid> {
    strategies: Vec<Box<dyn Strategy<K>>>,
    mode: ResolutionMode,
    claim: Option<Box<dyn ReadClaim<K>>>,
    require_token: bool,
    token_only: bool,
    store: Arc<dyn TenantStore<K>>,
    renderer: SharedRenderer,
}

impl<K> fmt::Debug for TenantLayerBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantLayerBuilder")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl<K: TenantIdType> TenantLayerBuilder<K> {
    /// Adds a strategy. Order matters in [`ResolutionMode::FirstMatch`].
    #[must_use]
    pub fn strategy(mut self, strategy: impl Strategy<K>) -> Self {
        self.strategies.push(Box::new(strategy));
        self
    }

    /// How strategies combine (default [`ResolutionMode::MustAgree`]).
    #[must_use]
    pub fn mode(mut self, mode: ResolutionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Cross-checks the tenant against the token: an authentication result
    /// of type `C` in the request extensions (put there by an earlier layer)
    /// must belong to the tenant the request addresses, or the answer is 403.
    ///
    /// The token only *verifies*: the request must still address its tenant
    /// through a strategy (400 otherwise), unless
    /// [`tenant_from_token`](Self::tenant_from_token) is set.
    #[must_use]
    pub fn token_claim<C: TenantClaim<K>>(mut self) -> Self {
        self.claim = Some(Box::new(TokenClaim::<C, K>::new()));
        self
    }

    /// Requires a token (see [`token_claim`](Self::token_claim)): requests
    /// without one get 401.
    #[must_use]
    pub fn require_token(mut self) -> Self {
        self.require_token = true;
        self
    }

    /// When no strategy names a tenant, uses the token's tenant (for APIs
    /// where the token alone says who the caller is).
    #[must_use]
    pub fn tenant_from_token(mut self) -> Self {
        self.token_only = true;
        self
    }

    /// Renders rejections your way instead of the default JSON.
    #[must_use]
    pub fn render_rejections_with(mut self, renderer: impl RenderRejection) -> Self {
        self.renderer = Arc::new(renderer);
        self
    }

    /// Finishes the layer.
    pub fn build(self) -> TenantLayer<K> {
        TenantLayer {
            shared: Arc::new(Shared {
                resolver: Resolver {
                    strategies: self.strategies,
                    mode: self.mode,
                    claim: self.claim,
                    require_token: self.require_token,
                    token_only: self.token_only,
                    store: self.store,
                },
                renderer: self.renderer,
            }),
        }
    }
}

/// The service [`TenantLayer`] wraps around an inner service.
pub struct TenantService<S, K = Uuid> {
    inner: S,
    shared: Arc<Shared<K>>,
}

impl<S: Clone, K> Clone for TenantService<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for TenantService<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for TenantService<S, K>
where
    K: TenantIdType,
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        // The common path: the store answers from memory (a cache hit), the
        // ready inner service is called at once, nothing is boxed.
        if let Some(result) = self.shared.resolver.resolve_now(&mut parts) {
            let state = match result {
                Ok(tenant) => call_in_scope(&mut self.inner, tenant, parts, body),
                Err(rejection) => State::Rejected {
                    response: Some(render_with(&*self.shared.renderer, &rejection)),
                },
            };
            return ResponseFuture { state };
        }
        // The store must be awaited: the ready service handles this request
        // once the tenant is known; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let resolve = Box::pin(async move {
            let result = shared
                .resolver
                .resolve(&mut parts)
                .await
                .map_err(|rejection| render_with(&*shared.renderer, &rejection));
            (result, parts)
        });
        ResponseFuture {
            state: State::Resolving {
                resolve,
                rest: Some((body, inner)),
            },
        }
    }
}

/// Calls `inner` with the request and the tenant in its extensions, and
/// scopes the call's future to the tenant (task-local and tracing span).
// Measured: inlined into `call`, the request head and the futures are
// copied fewer times (three copies of 224 to 384 bytes less per request).
#[allow(clippy::inline_always)]
#[inline(always)]
fn call_in_scope<S, B, K>(
    inner: &mut S,
    tenant: Tenant<K>,
    mut parts: Parts,
    body: B,
) -> State<S, B, K>
where
    S: Service<Request<B>>,
    K: TenantIdType,
{
    // Tracing nobody listens to costs next to nothing: with no subscriber
    // ever set there is no current span to record into and no span is made,
    // and a span no subscriber wants is not entered on every poll.
    let span = if tracing::dispatcher::has_been_set() {
        tenancy_core::trace::record(&tracing::Span::current(), &tenant);
        Some(tenancy_core::trace::span(&tenant)).filter(|span| !span.is_disabled())
    } else {
        None
    };
    parts.extensions.insert(AnyTenant::from(tenant.clone()));
    let call = inner.call(Request::from_parts(parts, body));
    State::Calling {
        future: TenantContextOf::scope(tenant, call),
        span,
    }
}

type Resolution<K> = (Result<Tenant<K>, Response<String>>, Parts);

pin_project! {
    /// The response future of [`TenantService`]: resolves the tenant, then
    /// runs the inner service in the tenant's scope.
    pub struct ResponseFuture<S, B, K = Uuid>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B, K>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, K>
    where
        S: Service<Request<B>>,
    {
        Resolving {
            resolve: BoxFuture<'static, Resolution<K>>,
            rest: Option<(B, S)>,
        },
        Calling {
            #[pin]
            future: TaskLocalFuture<AnyTenant, S::Future>,
            // Entered around each poll (not an `Instrumented` wrapper: one
            // move less of the inner future on every request).
            span: Option<tracing::Span>,
        },
        Rejected {
            response: Option<Response<String>>,
        },
    }
}

impl<S, B, K> fmt::Debug for ResponseFuture<S, B, K>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<S, B, K, ResBody> Future for ResponseFuture<S, B, K>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    K: TenantIdType,
    ResBody: From<String>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Resolving { resolve, rest } => {
                    let (result, parts) = ready!(resolve.as_mut().poll(cx));
                    let tenant = match result {
                        Ok(tenant) => tenant,
                        Err(rejection) => return Poll::Ready(Ok(rejection.map(ResBody::from))),
                    };
                    let Some((body, mut inner)) = rest.take() else {
                        unreachable!("the request is taken once, when the tenant resolves");
                    };
                    let next = call_in_scope(&mut inner, tenant, parts, body);
                    this.state.set(next);
                }
                StateProj::Rejected { response } => {
                    let Some(response) = response.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    return Poll::Ready(Ok(response.map(ResBody::from)));
                }
                StateProj::Calling { future, span } => {
                    let _entered = span.as_ref().map(tracing::Span::enter);
                    return future.poll(cx);
                }
            }
        }
    }
}
