//! Strategies: where in a request the tenant is named.
//!
//! Each strategy looks at the request head and answers `Ok(Some(key))` (the
//! request names a tenant this way), `Ok(None)` (it does not) or
//! `Err(rejection)` (it tries to, but malformed: a 400 with the reason).
//! They never look the tenant up; the layer does that once.

mod claim;
mod custom_domain;
mod header;
mod path;
mod subdomain;

use http::request::Parts;

pub(crate) use claim::ReadClaim;
pub use claim::{ClaimStatus, Impersonation, MAX_IMPERSONATION, TenantClaim, TokenClaim};
pub use custom_domain::CustomDomain;
pub use header::Header;
pub use path::PathPrefix;
pub use subdomain::Subdomain;

use tenancy_core::TenantIdType;
use tenancy_core::uuid::Uuid;

use crate::{TenantKey, TenantRejection};

/// A way to find the tenant's name in a request. Implement it for your own
/// strategies; the built-in ones are [`Subdomain`], [`CustomDomain`],
/// [`Header`] and [`PathPrefix`] (the token claim is a cross-check, see
/// [`TokenClaim`]).
pub trait Strategy<K: TenantIdType = Uuid>: Send + Sync + 'static {
    /// A short name for rejections and logs (`"subdomain"`, `"header"`, ...).
    fn name(&self) -> &'static str;

    /// Finds the tenant key in the request head.
    ///
    /// May be called more than once per request: the layer first tries to
    /// resolve from the store's memory, and identifies again when it must
    /// await the store. Keep it a pure function of `parts`.
    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey<K>>, TenantRejection>;

    /// Called when this strategy's key was used, before the inner service
    /// runs: the place to strip a path prefix. Does nothing by default.
    fn rewrite(&self, parts: &mut Parts) {
        let _ = parts;
    }
}

pub(crate) fn malformed(strategy: &'static str, reason: impl Into<String>) -> TenantRejection {
    TenantRejection::Malformed {
        strategy,
        reason: reason.into(),
    }
}
