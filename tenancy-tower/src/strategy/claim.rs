//! [`TokenClaim`]: the tenant an authenticated token belongs to.

use std::marker::PhantomData;

use http::Extensions;

use tenancy_core::TenantIdType;
use tenancy_core::uuid::Uuid;

use crate::TenantKey;

/// Implemented by your authentication result (the claims an earlier layer
/// verified and put into the request extensions), to say which tenant the
/// token belongs to. No JWT library is imposed.
///
/// ```
/// use tenancy_tower::{TenantClaim, TenantKey};
///
/// #[derive(Clone)]
/// struct Claims { sub: String, tenant_id: String }
///
/// impl TenantClaim for Claims {
///     fn tenant_key(&self) -> Option<TenantKey> {
///         self.tenant_id.parse().ok().map(TenantKey::Id)
///     }
/// }
/// ```
pub trait TenantClaim<K: TenantIdType = Uuid>: Send + Sync + 'static {
    /// The tenant the token belongs to; `None` if it names none.
    ///
    /// May be called more than once per request (again when the store must
    /// be awaited): keep it a pure read of the claims.
    fn tenant_key(&self) -> Option<TenantKey<K>>;
}

/// What the request's token says about the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimStatus<K = Uuid> {
    /// No authentication result in the request.
    NoToken,
    /// A token that names this tenant.
    Tenant(TenantKey<K>),
    /// A token that names no tenant.
    NoTenant,
}

/// Reads a [`TenantClaim`] of type `C` from the request extensions.
///
/// Used through
/// [`TenantLayerBuilder::token_claim`](crate::TenantLayerBuilder::token_claim):
/// the token's tenant is cross-checked against the tenant the request
/// addresses (403 when they differ), and resolves the tenant when nothing
/// else names one.
pub struct TokenClaim<C, K = Uuid> {
    claims: PhantomData<fn() -> (C, K)>,
}

impl<C, K> std::fmt::Debug for TokenClaim<C, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenClaim")
    }
}

impl<K: TenantIdType, C: TenantClaim<K>> TokenClaim<C, K> {
    pub(crate) fn new() -> Self {
        Self {
            claims: PhantomData,
        }
    }
}

/// The object-safe side of [`TokenClaim`].
pub(crate) trait ReadClaim<K>: Send + Sync + 'static {
    fn read(&self, extensions: &Extensions) -> ClaimStatus<K>;
}

impl<K: TenantIdType, C: TenantClaim<K>> ReadClaim<K> for TokenClaim<C, K> {
    fn read(&self, extensions: &Extensions) -> ClaimStatus<K> {
        match extensions.get::<C>() {
            None => ClaimStatus::NoToken,
            Some(claims) => claims
                .tenant_key()
                .map_or(ClaimStatus::NoTenant, ClaimStatus::Tenant),
        }
    }
}
