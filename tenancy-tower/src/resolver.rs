//! Turning a request head into a verified [`Tenant`].
//!
//! Checks run in this order, so each answer is the most specific one:
//! tenant named at all (400) → known (404) or store down (503) → all names
//! agree (400) → token present if required (401) → active (403) → token
//! belongs to it (403).

use std::sync::Arc;

use http::request::Parts;
use tenancy_core::{Tenant, TenantStore};

use crate::strategy::{ClaimStatus, ReadClaim, Strategy};
use crate::{TenantKey, TenantRejection};

/// How several strategies combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Every strategy that finds a tenant must find the **same** tenant;
    /// disagreement is a 400. The safe default.
    #[default]
    MustAgree,
    /// The first strategy (in the order given) that finds a tenant wins;
    /// later ones are not consulted.
    FirstMatch,
}

/// The configured resolution: strategies, mode, token cross-check, store.
pub(crate) struct Resolver {
    pub(crate) strategies: Vec<Box<dyn Strategy>>,
    pub(crate) mode: Mode,
    pub(crate) claim: Option<Box<dyn ReadClaim>>,
    pub(crate) require_token: bool,
    pub(crate) token_only: bool,
    pub(crate) store: Arc<dyn TenantStore>,
}

impl Resolver {
    /// Resolves and verifies the tenant. On success, strategies whose key was
    /// used may have rewritten `parts` (path prefix stripping).
    pub(crate) async fn resolve(&self, parts: &mut Parts) -> Result<Tenant, TenantRejection> {
        // Which strategies name a tenant (sync, no I/O). The usual request
        // names it once: `others` stays empty and never allocates.
        let mut first: Option<(usize, TenantKey)> = None;
        let mut others: Vec<(usize, TenantKey)> = Vec::new();
        for (index, strategy) in self.strategies.iter().enumerate() {
            if let Some(key) = strategy.identify(parts)? {
                if first.is_none() {
                    first = Some((index, key));
                } else {
                    others.push((index, key));
                }
                if self.mode == Mode::FirstMatch {
                    break;
                }
            }
        }
        let claim = self.claim.as_ref().map(|c| c.read(&parts.extensions));

        // Look the tenant up once; other keys must name the same tenant.
        let tenant = match (&first, &claim) {
            (Some((_, key)), _) => self.lookup(key).await?,
            (None, Some(ClaimStatus::Tenant(key))) if self.token_only => self.lookup(key).await?,
            (None, _) => return Err(TenantRejection::Missing),
        };
        for (_, key) in &others {
            if !self.names(key, &tenant).await {
                return Err(TenantRejection::Conflict);
            }
        }

        if self.require_token && matches!(claim, None | Some(ClaimStatus::NoToken)) {
            return Err(TenantRejection::TokenRequired);
        }
        if !tenant.is_active() {
            return Err(TenantRejection::Suspended);
        }
        match &claim {
            Some(ClaimStatus::Tenant(key)) if !self.names(key, &tenant).await => {
                return Err(TenantRejection::Mismatch);
            }
            Some(ClaimStatus::NoTenant) => return Err(TenantRejection::Mismatch),
            _ => {}
        }

        for (index, _) in first.iter().chain(&others) {
            self.strategies[*index].rewrite(parts);
        }
        Ok(tenant)
    }

    /// Whether `key` names `tenant` (domains need the store to tell).
    async fn names(&self, key: &TenantKey, tenant: &Tenant) -> bool {
        match key {
            TenantKey::Domain(_) => self
                .lookup(key)
                .await
                .ok()
                .is_some_and(|t| t.id() == tenant.id()),
            _ => key.names(tenant),
        }
    }

    async fn lookup(&self, key: &TenantKey) -> Result<Tenant, TenantRejection> {
        let found = match key {
            TenantKey::Slug(slug) => self.store.by_slug(slug).await,
            TenantKey::Id(id) => self.store.by_id(*id).await,
            TenantKey::Domain(domain) => self.store.by_domain(domain).await,
        };
        match found {
            Ok(Some(tenant)) => Ok(tenant),
            Ok(None) => Err(TenantRejection::NotFound),
            Err(err) => {
                tracing::warn!(error = %err, "tenant store lookup failed");
                Err(TenantRejection::StoreUnavailable)
            }
        }
    }
}
