//! [`CurrentTenant`]: the tenant, in a handler.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use tenancy_core::uuid::Uuid;
use tenancy_core::{AnyTenant, Tenant, TenantIdType};

/// Extracts the tenant that [`TenantMiddleware`](crate::TenantMiddleware)
/// resolved. Without the middleware in front of the route (or with one
/// configured for another id type), the request fails with a 500: a server
/// misconfiguration, never a handler run without a tenant.
#[derive(Debug, Clone)]
pub struct CurrentTenant<K = Uuid>(pub Tenant<K>);

impl<K> Deref for CurrentTenant<K> {
    type Target = Tenant<K>;

    fn deref(&self) -> &Tenant<K> {
        &self.0
    }
}

/// The error of [`CurrentTenant`]: the route has no
/// [`TenantMiddleware`](crate::TenantMiddleware). Answers 500 with the same
/// JSON body as tenancy-tower's `MissingTenantLayer`.
#[derive(Debug, Clone, Copy)]
pub struct MissingTenantMiddleware;

impl std::fmt::Display for MissingTenantMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tenancy_tower::TenantRejection::LayerMissing.reason())
    }
}

impl ResponseError for MissingTenantMiddleware {
    fn error_response(&self) -> HttpResponse {
        use tenancy_tower::RenderRejection as _;
        crate::convert::response(
            tenancy_tower::JsonRenderer.render(&tenancy_tower::TenantRejection::LayerMissing),
        )
    }
}

impl<K: TenantIdType> FromRequest for CurrentTenant<K> {
    type Error = MissingTenantMiddleware;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let tenant = request
            .extensions()
            .get::<AnyTenant>()
            .and_then(AnyTenant::downcast::<K>)
            .cloned();
        ready(tenant.map(CurrentTenant).ok_or(MissingTenantMiddleware))
    }
}
