//! axum integration (feature `axum`): the [`CurrentTenant`] extractor.

use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use tenancy_core::uuid::Uuid;
use tenancy_core::{AnyTenant, Tenant, TenantIdType};

use crate::TenantRejection;
use crate::rejection::Renderer;

/// Extracts the tenant that [`TenantLayer`](crate::TenantLayer) resolved.
///
/// ```
/// use tenancy_tower::CurrentTenant;
///
/// async fn whoami(CurrentTenant(tenant): CurrentTenant) -> String {
///     format!("hello, {}", tenant.name())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentTenant<K = Uuid>(pub Tenant<K>);

impl<K> Deref for CurrentTenant<K> {
    type Target = Tenant<K>;

    fn deref(&self) -> &Tenant<K> {
        &self.0
    }
}

impl<S: Send + Sync, K: TenantIdType> FromRequestParts<S> for CurrentTenant<K> {
    type Rejection = MissingTenantLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A tenant of another id type means a `TenantLayer` configured for
        // other ids than this handler: as good as no layer, fail closed.
        parts
            .extensions
            .get::<AnyTenant>()
            .and_then(AnyTenant::downcast::<K>)
            .cloned()
            .map(CurrentTenant)
            .ok_or(MissingTenantLayer)
    }
}

/// The rejection of [`CurrentTenant`]: the route has no
/// [`TenantLayer`](crate::TenantLayer) in front of it. A server
/// misconfiguration, so 500 ([`TenantRejection::LayerMissing`], rendered by
/// [`JsonRenderer`](crate::JsonRenderer)); with the
/// layer in place, handlers never run without a tenant.
#[derive(Debug, Clone, Copy)]
pub struct MissingTenantLayer;

impl IntoResponse for MissingTenantLayer {
    fn into_response(self) -> Response {
        // No TenantLayer means no renderer of the user's: the default one.
        Renderer::default()
            .render(&TenantRejection::LayerMissing)
            .map(axum_core::body::Body::from)
    }
}
