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

    /// When the token is an impersonation token (a staff member acting as
    /// one of the tenant's users): who, and until when. The tenant is
    /// cross-checked as for any token; the resolved tenant then carries
    /// [`Tenant::impersonated_by`](tenancy_core::Tenant::impersonated_by)
    /// (in the tracing span and the activity trail). A token that expired,
    /// or lives longer than [`MAX_IMPERSONATION`](crate::MAX_IMPERSONATION),
    /// is refused with 401. `None` (the default): an ordinary token.
    fn impersonation(&self) -> Option<Impersonation> {
        None
    }
}

/// The longest an impersonation token may live: one hour from the
/// request. Mint them for minutes.
pub const MAX_IMPERSONATION: std::time::Duration = std::time::Duration::from_hours(1);

/// A staff member acting as a tenant's user, from a verified impersonation
/// token (see [`TenantClaim::impersonation`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    staff: String,
    expires_at: std::time::SystemTime,
}

impl Impersonation {
    /// `staff` acts until `expires_at`.
    pub fn new(staff: impl Into<String>, expires_at: std::time::SystemTime) -> Self {
        Self {
            staff: staff.into(),
            expires_at,
        }
    }

    /// Who acts.
    pub fn staff(&self) -> &str {
        &self.staff
    }

    /// Until when.
    pub fn expires_at(&self) -> std::time::SystemTime {
        self.expires_at
    }

    /// Whether it is valid now: not expired, and not longer-lived than
    /// [`MAX_IMPERSONATION`].
    pub(crate) fn valid_at(&self, now: std::time::SystemTime) -> bool {
        self.expires_at > now && self.expires_at <= now + MAX_IMPERSONATION
    }
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
    fn impersonation(&self, extensions: &Extensions) -> Option<Impersonation>;
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

    fn impersonation(&self, extensions: &Extensions) -> Option<Impersonation> {
        extensions.get::<C>().and_then(TenantClaim::impersonation)
    }
}
