//! [`TenantRateLimitLayer`]: requests per second, per tenant.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenancy_core::{AnyTenant, AnyTenantId};

use crate::rejection::{RenderRejection, Renderer};

/// A token bucket per tenant: `requests_per_second` sustained, `burst` at
/// once. The tenant's own [`TenantLimits`](tenancy_core::TenantLimits) win
/// over the layer's defaults.
///
/// ```
/// use std::num::NonZeroU32;
/// use tenancy_tower::limit::TenantRateLimitLayer;
///
/// let layer = TenantRateLimitLayer::new(NonZeroU32::new(50).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct TenantRateLimitLayer {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    renderer: Renderer,
    rate: NonZeroU32,
    burst: Option<NonZeroU32>,
    buckets: Mutex<HashMap<AnyTenantId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl TenantRateLimitLayer {
    /// `rate` requests per second per tenant by default, with a burst of the
    /// same size.
    pub fn new(rate: NonZeroU32) -> Self {
        Self {
            state: Arc::new(State {
                renderer: Renderer::default(),
                rate,
                burst: None,
                buckets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The default burst.
    #[must_use]
    pub fn burst(self, burst: NonZeroU32) -> Self {
        Self {
            state: Arc::new(State {
                renderer: self.state.renderer.clone(),
                rate: self.state.rate,
                burst: Some(burst),
                buckets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Renders its 429 (and the 500 when no tenant was resolved) with
    /// `renderer`, as [`TenantLayerBuilder::render_rejections_with`](crate::TenantLayerBuilder::render_rejections_with)
    /// does for the tenant layer; pass the same renderer to both.
    #[must_use]
    pub fn render_rejections_with(self, renderer: impl RenderRejection) -> Self {
        Self {
            state: Arc::new(State {
                renderer: Renderer(Arc::new(renderer)),
                rate: self.state.rate,
                burst: self.state.burst,
                buckets: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl State {
    /// Takes a token for `tenant`, or says how long until one is available.
    fn take(&self, tenant: &AnyTenant, now: Instant) -> Result<(), Duration> {
        let limits = tenant.settings().limits;
        let rate = f64::from(limits.requests_per_second.unwrap_or(self.rate.get()).max(1));
        let burst = f64::from(
            limits
                .burst
                .or(self.burst.map(NonZeroU32::get))
                .unwrap_or(self.rate.get())
                .max(1),
        );
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(AnyTenantId::from(tenant)).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

super::limit_service!(TenantRateLimitLayer, TenantRateLimit, ());

impl State {
    /// Takes a token from `tenant`'s bucket now, or the whole seconds until
    /// one is there.
    fn admit(&self, tenant: &AnyTenant) -> Result<(), u64> {
        self.take(tenant, Instant::now()).map_err(whole_seconds)
    }
}

fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenancy_core::{Tenant, TenantId, TenantLimits, TenantSettings};

    #[test]
    fn bucket_refills_at_the_tenants_rate() {
        let state = TenantRateLimitLayer::new(NonZeroU32::new(100).unwrap()).state;
        let slow: AnyTenant = Tenant::builder(TenantId::new_v4(), "slow".parse().unwrap())
            .settings(
                TenantSettings::default().with_limits(
                    TenantLimits::none()
                        .with_requests_per_second(2)
                        .with_burst(2),
                ),
            )
            .build()
            .into();
        let t0 = Instant::now();
        assert!(state.take(&slow, t0).is_ok());
        assert!(state.take(&slow, t0).is_ok());
        let wait = state.take(&slow, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(state.take(&slow, t0 + Duration::from_millis(500)).is_ok());
        // Another tenant has its own bucket and the layer default.
        let other = Tenant::builder(TenantId::new_v4(), "other".parse().unwrap())
            .build()
            .into();
        for _ in 0..100 {
            assert!(state.take(&other, t0).is_ok());
        }
        assert!(state.take(&other, t0).is_err());
        // Ids of other types count separately, even with equal text.
        let bigint: AnyTenant =
            Tenant::builder(TenantId::new(7_i64).unwrap(), "seven".parse().unwrap())
                .build()
                .into();
        let text: AnyTenant = Tenant::builder(
            TenantId::new("7".to_owned()).unwrap(),
            "seven".parse().unwrap(),
        )
        .build()
        .into();
        for _ in 0..100 {
            assert!(state.take(&bigint, t0).is_ok());
        }
        assert!(state.take(&bigint, t0).is_err());
        assert!(state.take(&text, t0).is_ok());
    }
}
