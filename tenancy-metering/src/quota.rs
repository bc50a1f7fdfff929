//! [`QuotaLayer`]: a tenant over its plan's quota gets a clear 429 or 403.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response};
use tenancy_core::{AnyTenant, AnyTenantId};
use tenancy_tower::limit::LimitFuture;
use tenancy_tower::{JsonRenderer, RenderRejection, TenantRejection, render_with};

use crate::hash::FxHashMap;

/// What a plan allows. `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quota {
    /// Requests per day (UTC); the next request is a 429 with
    /// `Retry-After` until midnight.
    pub requests_per_day: Option<u64>,
    /// Bytes of storage; over it, writes (every method but `GET`, `HEAD`,
    /// `OPTIONS` and `TRACE`) are a 403, reads go on.
    pub storage_bytes: Option<u64>,
}

impl Quota {
    /// No limits.
    pub const fn unlimited() -> Self {
        Self {
            requests_per_day: None,
            storage_bytes: None,
        }
    }

    /// Sets the requests per day.
    #[must_use]
    pub const fn with_requests_per_day(mut self, requests: u64) -> Self {
        self.requests_per_day = Some(requests);
        self
    }

    /// Sets the bytes of storage.
    #[must_use]
    pub const fn with_storage_bytes(mut self, bytes: u64) -> Self {
        self.storage_bytes = Some(bytes);
        self
    }
}

/// The quotas of each plan ([`TenantSettings::plan`](tenancy_core::TenantSettings::plan)),
/// and of tenants whose plan is not listed.
///
/// ```
/// use tenancy_metering::{Quota, Quotas};
///
/// let quotas = Quotas::new(Quota::unlimited())
///     .plan("free", Quota::unlimited().with_requests_per_day(1_000).with_storage_bytes(50 << 20))
///     .plan("pro", Quota::unlimited().with_requests_per_day(1_000_000));
/// ```
#[derive(Debug, Clone)]
pub struct Quotas {
    plans: HashMap<String, Quota>,
    otherwise: Quota,
}

impl Quotas {
    /// `otherwise` for every tenant whose plan has no quota of its own
    /// (tenants without a plan included).
    pub fn new(otherwise: Quota) -> Self {
        Self {
            plans: HashMap::new(),
            otherwise,
        }
    }

    /// The quota of `plan`.
    #[must_use]
    pub fn plan(mut self, plan: impl Into<String>, quota: Quota) -> Self {
        self.plans.insert(plan.into(), quota);
        self
    }

    /// The quota of `tenant`.
    pub fn of(&self, tenant: &AnyTenant) -> Quota {
        tenant
            .settings()
            .plan
            .as_ref()
            .and_then(|plan| self.plans.get(plan))
            .copied()
            .unwrap_or(self.otherwise)
    }
}

/// Holds each tenant to its plan's [`Quota`]: requests per day, counted
/// here as they are admitted, and storage, as last measured
/// ([`QuotaLayer::set_storage`], for example from a storage measurement
/// every few minutes).
///
/// Over a quota, the answer is a [`TenantRejection::QuotaExceeded`] with a
/// reason naming the quota: 429 with `Retry-After` (seconds to midnight
/// UTC) for requests, 403 for a write over the storage quota. Requests it
/// refuses do not count. It goes after (inside)
/// [`TenantLayer`](tenancy_tower::TenantLayer); without a resolved tenant
/// the answer is 500, never an unlimited request.
///
/// Counts are kept in this process: with several instances behind a load
/// balancer, each admits up to the quota of the traffic it sees.
///
/// ```
/// use tenancy_metering::{Quota, QuotaLayer, Quotas};
///
/// let quotas = QuotaLayer::new(
///     Quotas::new(Quota::unlimited()).plan("free", Quota::unlimited().with_requests_per_day(1_000)),
/// );
/// ```
#[derive(Clone)]
pub struct QuotaLayer {
    state: Arc<State>,
    renderer: Arc<dyn RenderRejection>,
}

impl std::fmt::Debug for QuotaLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaLayer")
            .field("quotas", &self.state.quotas)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    quotas: Quotas,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// The UTC day the request counts are of.
    day: u64,
    requests: FxHashMap<AnyTenantId, u64>,
    storage: FxHashMap<AnyTenantId, u64>,
}

const DAY_SECS: u64 = 86_400;

impl QuotaLayer {
    /// Holds tenants to `quotas`.
    pub fn new(quotas: Quotas) -> Self {
        Self {
            state: Arc::new(State {
                quotas,
                counts: Mutex::default(),
            }),
            renderer: Arc::new(JsonRenderer),
        }
    }

    /// Renders its answers with `renderer`, as the tenant layer's
    /// `render_rejections_with` does; pass the same renderer to both.
    #[must_use]
    pub fn render_rejections_with(self, renderer: impl RenderRejection) -> Self {
        Self {
            renderer: Arc::new(renderer),
            ..self
        }
    }

    /// Records `tenant`'s storage as last measured, in bytes. Cloned layers
    /// share it.
    pub fn set_storage(&self, tenant: AnyTenantId, bytes: u64) {
        self.state.counts().storage.insert(tenant, bytes);
    }

    /// Requests of `tenant` admitted today (UTC).
    pub fn requests_today(&self, tenant: &AnyTenantId) -> u64 {
        let today = now_secs() / DAY_SECS;
        let counts = self.state.counts();
        if counts.day == today {
            counts.requests.get(tenant).copied().unwrap_or(0)
        } else {
            0
        }
    }
}

impl State {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a request of `tenant` at `now` (seconds since the epoch), or
    /// says which quota it is over.
    fn admit(&self, tenant: &AnyTenant, write: bool, now: u64) -> Result<(), TenantRejection> {
        let quota = self.quotas.of(tenant);
        if quota.requests_per_day.is_none() && (quota.storage_bytes.is_none() || !write) {
            return Ok(());
        }
        let id = AnyTenantId::from(tenant);
        let mut counts = self.counts();
        if let Some(limit) = quota.storage_bytes
            && write
            && counts.storage.get(&id).is_some_and(|used| *used >= limit)
        {
            return Err(TenantRejection::QuotaExceeded {
                quota: "bytes of storage",
                limit,
                retry_after_secs: None,
            });
        }
        let Some(limit) = quota.requests_per_day else {
            return Ok(());
        };
        let today = now / DAY_SECS;
        if counts.day != today {
            counts.day = today;
            counts.requests.clear();
        }
        let used = counts.requests.entry(id).or_insert(0);
        if *used >= limit {
            return Err(TenantRejection::QuotaExceeded {
                quota: "requests per day",
                limit,
                retry_after_secs: Some((today + 1) * DAY_SECS - now),
            });
        }
        *used += 1;
        Ok(())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn is_write(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

layer_service!(QuotaLayer, QuotaService);

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for QuotaService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = LimitFuture<S::Future, ()>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let admitted = match request.extensions().get::<AnyTenant>() {
            None => Err(TenantRejection::LayerMissing),
            Some(tenant) => self
                .layer
                .state
                .admit(tenant, is_write(request.method()), now_secs()),
        };
        match admitted {
            Ok(()) => LimitFuture::running(self.inner.call(request), ()),
            Err(rejection) => LimitFuture::rejected(render_with(&*self.layer.renderer, &rejection)),
        }
    }
}

#[cfg(test)]
mod tests {
    use tenancy_core::{Tenant, TenantId, TenantSettings};

    use super::*;

    #[test]
    fn the_daily_quota_resets_at_midnight_utc() {
        let tenant = AnyTenant::from(
            Tenant::builder(
                TenantId::new_v4(),
                "t".parse().unwrap_or_else(|_| unreachable!()),
            )
            .settings(TenantSettings::default().with_plan("free"))
            .build(),
        );
        let layer = QuotaLayer::new(
            Quotas::new(Quota::unlimited())
                .plan("free", Quota::unlimited().with_requests_per_day(2)),
        );
        let midnight = 20_000 * DAY_SECS;
        let state = &layer.state;
        assert!(state.admit(&tenant, false, midnight - 10).is_ok());
        assert!(state.admit(&tenant, true, midnight - 5).is_ok());
        assert_eq!(
            state.admit(&tenant, false, midnight - 1),
            Err(TenantRejection::QuotaExceeded {
                quota: "requests per day",
                limit: 2,
                retry_after_secs: Some(1),
            })
        );
        // A new day: two more.
        assert!(state.admit(&tenant, false, midnight).is_ok());
        assert!(state.admit(&tenant, false, midnight + 1).is_ok());
        assert_eq!(
            state.admit(&tenant, false, midnight + 2),
            Err(TenantRejection::QuotaExceeded {
                quota: "requests per day",
                limit: 2,
                retry_after_secs: Some(DAY_SECS - 2),
            })
        );
    }
}
