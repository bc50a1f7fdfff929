//! Tower/axum middleware that resolves and verifies the tenant of every
//! request before any handler runs.
//!
//! [`TenantLayer`] finds the tenant's name in the request (subdomain, custom
//! domain, header, path prefix; see [`strategy`]), looks it up in a
//! [`TenantStore`](tenancy_core::TenantStore), checks it is active and that
//! it is the tenant the caller's token belongs to, and then runs the inner
//! service inside [`TenantContext`](tenancy_core::TenantContext) with the
//! [`Tenant`](tenancy_core::Tenant) in the request extensions. Anything else
//! is answered before a handler runs:
//!
//! | situation | status |
//! |---|---|
//! | no tenant in the request, or a malformed one | 400 |
//! | token required but missing | 401 |
//! | token of tenant A on tenant B's host/header | 403 |
//! | tenant suspended | 403 |
//! | unknown tenant | 404 `Tenant not found` |
//! | tenant store down | 503 |
//!
//! Bad input never panics and never yields a 500.
//!
//! # A complete axum service
//!
//! ```
//! use std::num::NonZeroU32;
//!
//! use axum::{Router, routing::get};
//! use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
//! use tenancy_tower::limit::{TenantConcurrencyLimitLayer, TenantRateLimitLayer};
//! use tenancy_tower::strategy::{Header, Subdomain};
//! use tenancy_core::CachedTenantStore;
//! use tenancy_tower::{CurrentTenant, TenantClaim, TenantKey, TenantLayer};
//! use tower::ServiceBuilder;
//!
//! /// What your authentication layer puts into the request extensions.
//! #[derive(Clone)]
//! struct Claims {
//!     tenant_id: TenantId,
//! }
//!
//! impl TenantClaim for Claims {
//!     fn tenant_key(&self) -> Option<TenantKey> {
//!         Some(TenantKey::Id(self.tenant_id))
//!     }
//! }
//!
//! async fn orders(CurrentTenant(tenant): CurrentTenant) -> String {
//!     // Everything awaited here also sees the tenant through TenantContext.
//!     format!("orders of {}", tenant.name())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = InMemoryTenantStore::new();
//! store.insert(Tenant::builder(TenantId::new_v4(), "acme".parse()?).name("Acme").build());
//!
//! let tenants = TenantLayer::builder(CachedTenantStore::new(store))
//!     .strategy(Subdomain::of("example.com")) // acme.example.com
//!     .strategy(Header::x_tenant())           // X-Tenant: acme
//!     .token_claim::<Claims>()                // a token of another tenant → 403
//!     .build();
//!
//! let app: Router = Router::new().route("/orders", get(orders)).layer(
//!     ServiceBuilder::new()
//!         .layer(tenants)
//!         .layer(TenantRateLimitLayer::new(NonZeroU32::new(100).ok_or("zero")?))
//!         .layer(TenantConcurrencyLimitLayer::new(NonZeroU32::new(20).ok_or("zero")?)),
//! );
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `axum` (default): the [`CurrentTenant`] extractor, and `IntoResponse`
//!   for [`TenantRejection`].
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
mod extract;
mod host;
mod layer;
pub mod limit;
mod rejection;
mod resolver;
pub mod strategy;

#[cfg(feature = "axum")]
pub use extract::{CurrentTenant, MissingTenantLayer};
pub use layer::{ResponseFuture, TenantLayer, TenantLayerBuilder, TenantService};
pub use rejection::{
    JsonRenderer, MOVE_RETRY_AFTER_SECS, RenderRejection, TenantRejection, render_with,
};
pub use resolver::ResolutionMode;
pub use strategy::{ClaimStatus, Impersonation, MAX_IMPERSONATION, Strategy, TenantClaim};
pub use tenancy_core::TenantKey;

pub use tenancy_core;
