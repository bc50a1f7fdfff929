//! axum integration (feature `axum`): the [`CurrentTenant`] extractor.

use std::ops::Deref;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use tenancy_core::Tenant;

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
pub struct CurrentTenant(pub Tenant);

impl Deref for CurrentTenant {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = MissingTenantLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Tenant>()
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
