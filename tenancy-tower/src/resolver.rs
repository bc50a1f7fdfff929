//! Turning a request head into a verified [`Tenant`].
//!
//! Checks run in this order, so each answer is the most specific one:
//! tenant named at all (400) → known (404) or store down (503) → all names
//! agree (400) → token present if required (401) → active (403) → token
//! belongs to it (403).

use std::sync::Arc;

use http::request::Parts;
use tenancy_core::{Lookup, Tenant, TenantIdType, TenantStore};

use crate::strategy::{ClaimStatus, ReadClaim, Strategy};
use crate::{TenantKey, TenantRejection};

/// How several strategies combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResolutionMode {
    /// Every strategy that finds a tenant must find the **same** tenant;
    /// disagreement is a 400. The safe default.
    #[default]
    MustAgree,
    /// The first strategy (in the order given) that finds a tenant wins;
    /// later ones are not consulted.
    FirstMatch,
}

/// The configured resolution: strategies, mode, token cross-check, store.
pub(crate) struct Resolver<K> {
    pub(crate) strategies: Vec<Box<dyn Strategy<K>>>,
    pub(crate) mode: ResolutionMode,
    pub(crate) claim: Option<Box<dyn ReadClaim<K>>>,
    pub(crate) require_token: bool,
    pub(crate) token_only: bool,
    pub(crate) store: Arc<dyn TenantStore<K>>,
}

/// Why a resolution stopped short of a tenant.
enum Stop<K> {
    /// The request is rejected.
    Rejected(TenantRejection),
    /// The store must be asked for this key asynchronously: it has no
    /// answer in memory and none was fetched yet.
    NeedsIo(TenantKey<K>),
}

impl<K> From<TenantRejection> for Stop<K> {
    fn from(rejection: TenantRejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// The store's awaited answers during one resolution, by key; `None` when
/// it failed (logged once, when it failed).
type Fetched<K> = [(TenantKey<K>, Option<Lookup<K>>)];

impl<K: TenantIdType> Resolver<K> {
    /// Resolves and verifies the tenant at once if the store can answer
    /// every lookup from memory (a cache hit): the common path then needs no
    /// future at all. `None`: the store must be awaited, use
    /// [`resolve`](Self::resolve); `parts` is then untouched.
    pub(crate) fn resolve_now(
        &self,
        parts: &mut Parts,
    ) -> Option<Result<Tenant<K>, TenantRejection>> {
        match self.decide(parts, &[]) {
            Ok(tenant) => Some(Ok(tenant)),
            Err(Stop::Rejected(rejection)) => Some(Err(rejection)),
            Err(Stop::NeedsIo(_)) => None,
        }
    }

    /// Resolves and verifies the tenant, awaiting the store where it has no
    /// answer in memory: each key the resolution needs is fetched once, and
    /// the resolution runs again with the answers (strategies only read the
    /// request, and rewrite it only once it is accepted).
    pub(crate) async fn resolve(&self, parts: &mut Parts) -> Result<Tenant<K>, TenantRejection> {
        let mut fetched = Vec::new();
        loop {
            match self.decide(parts, &fetched) {
                Ok(tenant) => return Ok(tenant),
                Err(Stop::Rejected(rejection)) => return Err(rejection),
                // A key not fetched yet (`lookup` answers fetched ones), so
                // the loop ends after as many rounds as the request has keys.
                Err(Stop::NeedsIo(key)) => {
                    let answer = match self.store.lookup(&key).await {
                        Ok(answer) => Some(answer),
                        Err(err) => {
                            tracing::warn!(error = %err, "tenant store lookup failed");
                            None
                        }
                    };
                    fetched.push((key, answer));
                }
            }
        }
    }

    /// The whole resolution, without waiting: what the store answered in
    /// memory or in `fetched`, or the key it must be asked for.
    fn decide(&self, parts: &mut Parts, fetched: &Fetched<K>) -> Result<Tenant<K>, Stop<K>> {
        // Which strategies name a tenant (sync, no I/O). The usual request
        // names it once: `others` stays empty and never allocates.
        let mut first: Option<(usize, TenantKey<K>)> = None;
        let mut others: Vec<(usize, TenantKey<K>)> = Vec::new();
        for (index, strategy) in self.strategies.iter().enumerate() {
            if let Some(key) = strategy.identify(parts)? {
                if first.is_none() {
                    first = Some((index, key));
                } else {
                    others.push((index, key));
                }
                if self.mode == ResolutionMode::FirstMatch {
                    break;
                }
            }
        }
        let claim = self.claim.as_ref().map(|c| c.read(&parts.extensions));

        // Look the tenant up once; other keys must name the same tenant.
        let tenant = match (&first, &claim) {
            (Some((_, key)), _) => self.lookup(key, fetched)?,
            (None, Some(ClaimStatus::Tenant(key))) if self.token_only => {
                self.lookup(key, fetched)?
            }
            (None, _) => return Err(TenantRejection::Missing.into()),
        };
        for (_, key) in &others {
            if !self.names(key, &tenant, fetched)? {
                return Err(TenantRejection::Conflict.into());
            }
        }

        if self.require_token && matches!(claim, None | Some(ClaimStatus::NoToken)) {
            return Err(TenantRejection::TokenRequired.into());
        }
        if tenant.is_moving() {
            // Writes are frozen while the tenant's data moves; reads are
            // served from where it is.
            if !parts.method.is_safe() {
                return Err(TenantRejection::Moving.into());
            }
        } else if !tenant.is_active() {
            return Err(TenantRejection::Suspended.into());
        }
        match &claim {
            Some(ClaimStatus::Tenant(key)) if !self.names(key, &tenant, fetched)? => {
                return Err(TenantRejection::Mismatch.into());
            }
            Some(ClaimStatus::NoTenant) => return Err(TenantRejection::Mismatch.into()),
            _ => {}
        }

        let impersonation = match &claim {
            Some(ClaimStatus::Tenant(_)) => self
                .claim
                .as_ref()
                .and_then(|c| c.impersonation(&parts.extensions)),
            _ => None,
        };
        let tenant = match impersonation {
            None => tenant,
            Some(acting) if acting.valid_at(std::time::SystemTime::now()) => {
                tenant.impersonated(acting.staff())
            }
            Some(_) => return Err(TenantRejection::ImpersonationExpired.into()),
        };

        for (index, _) in first.iter().chain(&others) {
            self.strategies[*index].rewrite(parts);
        }
        Ok(tenant)
    }

    /// Whether `key` names `tenant` (domains need the store to tell; a
    /// domain the store does not know, or cannot look up, names no one).
    fn names(
        &self,
        key: &TenantKey<K>,
        tenant: &Tenant<K>,
        fetched: &Fetched<K>,
    ) -> Result<bool, Stop<K>> {
        match key {
            TenantKey::Domain(_) => match self.lookup(key, fetched) {
                Ok(found) => Ok(found.id_ref() == tenant.id_ref()),
                Err(Stop::NeedsIo(key)) => Err(Stop::NeedsIo(key)),
                Err(Stop::Rejected(_)) => Ok(false),
            },
            _ => Ok(key.names(tenant)),
        }
    }

    /// The tenant `key` names: from the store's memory, or from what was
    /// fetched for it in this resolution.
    fn lookup(&self, key: &TenantKey<K>, fetched: &Fetched<K>) -> Result<Tenant<K>, Stop<K>> {
        let found = match fetched.iter().find(|(fetched, _)| fetched == key) {
            Some((_, answer)) => answer.clone(),
            None => match self.store.lookup_now(key) {
                Some(answer) => Some(answer),
                None => return Err(Stop::NeedsIo(key.clone())),
            },
        };
        match found {
            Some(Lookup::Found(tenant)) => Ok(tenant),
            Some(Lookup::NotFound) => Err(TenantRejection::NotFound.into()),
            None => Err(TenantRejection::StoreUnavailable.into()),
        }
    }
}
