//! Turning a request head into a verified [`Tenant`].
//!
//! Checks run in this order, so each answer is the most specific one:
//! tenant named at all (400) → known (404) or store down (503) → all names
//! agree (400) → token present if required (401) → active (403) → token
//! belongs to it (403).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

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

/// Whether a resolution may wait for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Io {
    /// Only answers the store has in memory ([`TenantStore::lookup_now`]).
    Forbidden,
    /// Any answer, awaiting the store if needed.
    Allowed,
}

/// Why a resolution stopped short of a tenant.
enum Stop {
    /// The request is rejected.
    Rejected(TenantRejection),
    /// The store must be asked asynchronously ([`Io::Forbidden`] only).
    NeedsIo,
}

impl From<TenantRejection> for Stop {
    fn from(rejection: TenantRejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl<K: TenantIdType> Resolver<K> {
    /// Resolves and verifies the tenant at once if the store can answer
    /// every lookup from memory (a cache hit): the common path then needs no
    /// boxed future. `None`: the store must be awaited, use
    /// [`resolve`](Self::resolve); `parts` is then untouched.
    pub(crate) fn resolve_now(
        &self,
        parts: &mut Parts,
    ) -> Option<Result<Tenant<K>, TenantRejection>> {
        // With `Io::Forbidden` nothing is ever awaited that could be pending:
        // the one poll runs the resolution to its end.
        let attempt = pin!(self.resolve_with(parts, Io::Forbidden));
        match attempt.poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(tenant)) => Some(Ok(tenant)),
            Poll::Ready(Err(Stop::Rejected(rejection))) => Some(Err(rejection)),
            Poll::Ready(Err(Stop::NeedsIo)) | Poll::Pending => None,
        }
    }

    /// Resolves and verifies the tenant, awaiting the store as needed. On
    /// success, strategies whose key was used may have rewritten `parts`
    /// (path prefix stripping).
    pub(crate) async fn resolve(&self, parts: &mut Parts) -> Result<Tenant<K>, TenantRejection> {
        match self.resolve_with(parts, Io::Allowed).await {
            Ok(tenant) => Ok(tenant),
            Err(Stop::Rejected(rejection)) => Err(rejection),
            // Not produced when I/O is allowed; fail closed all the same.
            Err(Stop::NeedsIo) => Err(TenantRejection::StoreUnavailable),
        }
    }

    /// The resolution itself. Strategies and the claim are read without
    /// side effects, and `parts` is rewritten only after the last lookup, so
    /// an attempt stopped by [`Stop::NeedsIo`] leaves no trace.
    async fn resolve_with(&self, parts: &mut Parts, io: Io) -> Result<Tenant<K>, Stop> {
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
            (Some((_, key)), _) => self.lookup(key, io).await?,
            (None, Some(ClaimStatus::Tenant(key))) if self.token_only => {
                self.lookup(key, io).await?
            }
            (None, _) => return Err(TenantRejection::Missing.into()),
        };
        for (_, key) in &others {
            if !self.names(key, &tenant, io).await? {
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
            Some(ClaimStatus::Tenant(key)) if !self.names(key, &tenant, io).await? => {
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
    async fn names(&self, key: &TenantKey<K>, tenant: &Tenant<K>, io: Io) -> Result<bool, Stop> {
        match key {
            TenantKey::Domain(_) => match self.lookup(key, io).await {
                Ok(found) => Ok(found.id_ref() == tenant.id_ref()),
                Err(Stop::NeedsIo) => Err(Stop::NeedsIo),
                Err(Stop::Rejected(_)) => Ok(false),
            },
            _ => Ok(key.names(tenant)),
        }
    }

    async fn lookup(&self, key: &TenantKey<K>, io: Io) -> Result<Tenant<K>, Stop> {
        let found = match (self.store.lookup_now(key), io) {
            (Some(answer), _) => Ok(answer),
            (None, Io::Forbidden) => return Err(Stop::NeedsIo),
            (None, Io::Allowed) => self.store.lookup(key).await,
        };
        match found {
            Ok(Lookup::Found(tenant)) => Ok(tenant),
            Ok(Lookup::NotFound) => Err(TenantRejection::NotFound.into()),
            Err(err) => {
                tracing::warn!(error = %err, "tenant store lookup failed");
                Err(TenantRejection::StoreUnavailable.into())
            }
        }
    }
}
