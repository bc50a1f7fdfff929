//! [`TenantMiddleware`] and [`TenantMiddlewareService`].

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use futures_util::future::LocalBoxFuture;
use tenancy_core::uuid::Uuid;
use tenancy_core::{AnyTenant, TenantContextOf, TenantIdType};
use tenancy_tower::TenantLayer;

use crate::convert;

/// Copies the verified claims from actix's request extensions into the
/// ones the resolution reads.
type CopyClaims = fn(&actix_web::dev::Extensions, &mut http::Extensions);

/// actix-web middleware (a [`Transform`]) that resolves the tenant of every
/// request with a [`TenantLayer`]'s configuration, before the wrapped
/// service runs. See the [crate documentation](crate).
pub struct TenantMiddleware<K = Uuid> {
    layer: TenantLayer<K>,
    claims: Option<CopyClaims>,
}

impl<K> Clone for TenantMiddleware<K> {
    fn clone(&self) -> Self {
        Self {
            layer: self.layer.clone(),
            claims: self.claims,
        }
    }
}

impl<K: TenantIdType> std::fmt::Debug for TenantMiddleware<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMiddleware")
            .field("layer", &self.layer)
            .field("claims", &self.claims.is_some())
            .finish()
    }
}

impl<K: TenantIdType> TenantMiddleware<K> {
    /// Resolves tenants as `layer` is configured to.
    pub fn new(layer: TenantLayer<K>) -> Self {
        Self {
            layer,
            claims: None,
        }
    }

    /// Hands the verified claims of type `C`, which an authentication
    /// middleware in front of this one put into actix's request extensions,
    /// to the resolution, for the layer's
    /// [`token_claim`](tenancy_tower::TenantLayerBuilder::token_claim)
    /// check.
    #[must_use]
    pub fn claims<C: Clone + Send + Sync + 'static>(mut self) -> Self {
        fn copy<C: Clone + Send + Sync + 'static>(
            from: &actix_web::dev::Extensions,
            to: &mut http::Extensions,
        ) {
            if let Some(claims) = from.get::<C>() {
                to.insert(claims.clone());
            }
        }
        self.claims = Some(copy::<C>);
        self
    }
}

impl<S, B, K> Transform<S, ServiceRequest> for TenantMiddleware<K>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    K: TenantIdType,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = TenantMiddlewareService<S, K>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(TenantMiddlewareService {
            service: Rc::new(service),
            middleware: self.clone(),
        }))
    }
}

/// The service [`TenantMiddleware`] wraps around yours.
pub struct TenantMiddlewareService<S, K = Uuid> {
    service: Rc<S>,
    middleware: TenantMiddleware<K>,
}

impl<S, K: TenantIdType> std::fmt::Debug for TenantMiddlewareService<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMiddlewareService")
            .field("middleware", &self.middleware)
            .finish_non_exhaustive()
    }
}

impl<S, B, K> Service<ServiceRequest> for TenantMiddlewareService<S, K>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
    K: TenantIdType,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let middleware = self.middleware.clone();
        Box::pin(async move {
            let mut parts = match convert::parts(request.head()) {
                Ok(parts) => parts,
                Err(rejection) => {
                    let response = convert::response(middleware.layer.render_rejection(&rejection));
                    return Ok(request.into_response(response).map_into_right_body());
                }
            };
            if let Some(copy) = middleware.claims {
                copy(&request.extensions(), &mut parts.extensions);
            }
            let original = parts.uri.clone();
            let tenant = match middleware.layer.resolve(&mut parts).await {
                Ok(tenant) => tenant,
                Err(rejection) => {
                    let response = convert::response(rejection);
                    return Ok(request.into_response(response).map_into_right_body());
                }
            };
            if parts.uri != original {
                // A strategy rewrote the path (a stripped prefix): route the
                // rest of the request by the rewritten one.
                if let Ok(uri) = parts.uri.to_string().parse::<actix_web::http::Uri>() {
                    request.match_info_mut().get_mut().update(&uri);
                    request.head_mut().uri = uri;
                }
            }
            request
                .extensions_mut()
                .insert(AnyTenant::from(tenant.clone()));
            // The call itself runs in the scope too: services that do work
            // before returning their future see the tenant.
            let response =
                TenantContextOf::scope(tenant, async move { service.call(request).await }).await?;
            Ok(response.map_into_left_body())
        })
    }
}
