//! [`Tenant`], a resolved tenant with its status and settings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Placement, TenantError, TenantId, TenantIdType, TenantSlug};

/// Whether a tenant may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TenantStatus {
    /// The tenant is served normally.
    #[default]
    Active,
    /// The tenant exists but is blocked (unpaid bill, abuse, offboarding).
    /// tenancy-tower answers 403 and background jobs refuse to run.
    Suspended,
    /// The tenant's data is being moved to another placement (another
    /// schema, database or server: `tenancy_sqlx::moves`). Its writes are
    /// frozen for the move's copy and switch: tenancy-tower answers
    /// requests that may write (any method but `GET`, `HEAD`, `OPTIONS`,
    /// `TRACE`) with 503 and `Retry-After`, its transactions open
    /// `READ ONLY`, and its background jobs are retried later, not run.
    /// Reads are served from where the data is.
    Moving,
}

impl TenantStatus {
    /// The status in words, as stored in databases and shown in errors.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Moving => "moving",
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-tenant limits against noisy neighbours. `None` means "use the
/// service-wide default".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TenantLimits {
    /// Sustained requests per second.
    pub requests_per_second: Option<u32>,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: Option<u32>,
    /// Requests served at the same time.
    pub max_concurrent_requests: Option<u32>,
}

impl TenantLimits {
    /// No per-tenant limits: every field falls back to the service default.
    pub const fn none() -> Self {
        Self {
            requests_per_second: None,
            burst: None,
            max_concurrent_requests: None,
        }
    }

    /// Sets the sustained request rate.
    #[must_use]
    pub const fn with_requests_per_second(mut self, rate: u32) -> Self {
        self.requests_per_second = Some(rate);
        self
    }

    /// Sets the burst size.
    #[must_use]
    pub const fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Sets the concurrency cap.
    #[must_use]
    pub const fn with_max_concurrent_requests(mut self, max: u32) -> Self {
        self.max_concurrent_requests = Some(max);
        self
    }
}

/// Per-tenant settings: plan, limits, and an open map for anything else an
/// application wants to keep per tenant (branding, feature flags, ...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TenantSettings {
    /// The plan or tier (`"free"`, `"pro"`, ...), if the application uses plans.
    pub plan: Option<String>,
    /// Limits for this tenant.
    pub limits: TenantLimits,
    /// Where the tenant's data lives: shared tables (the default), its own
    /// schema, another server or database.
    #[serde(skip_serializing_if = "Placement::is_shared")]
    pub placement: Placement,
    /// Anything else, as JSON values keyed by name.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl TenantSettings {
    /// Sets the plan.
    #[must_use]
    pub fn with_plan(mut self, plan: impl Into<String>) -> Self {
        self.plan = Some(plan.into());
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: TenantLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets where the tenant's data lives.
    #[must_use]
    pub fn with_placement(mut self, placement: Placement) -> Self {
        self.placement = placement;
        self
    }

    /// Adds an application-defined setting.
    #[must_use]
    pub fn with_extra(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "K: TenantIdType", deserialize = "K: TenantIdType"))]
struct TenantData<K> {
    id: TenantId<K>,
    slug: TenantSlug,
    name: String,
    #[serde(default)]
    status: TenantStatus,
    #[serde(default)]
    settings: TenantSettings,
    /// The staff member acting as this tenant's user (an impersonation
    /// token), if any. Never stored or serialized: only the resolution of
    /// a request sets it.
    #[serde(skip)]
    impersonated_by: Option<Arc<str>>,
}

/// A resolved tenant: id, slug, display name, status and settings.
///
/// `K` is the type of the tenant's id ([`TenantIdType`]): [`Uuid`] unless
/// the application chose `i64`, `i32` or `String`.
///
/// Cloning is cheap (one reference count), so a `Tenant` can be put into
/// request extensions, task-locals and jobs freely. It is immutable: to change
/// a tenant, build a new one (see [`Tenant::to_builder`]).
///
/// ```
/// use tenancy_core::{Tenant, TenantId, TenantStatus};
///
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?)
///     .name("Acme Restaurant")
///     .build();
/// assert_eq!(acme.slug().as_str(), "acme");
/// assert_eq!(acme.status(), TenantStatus::Active);
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(
    transparent,
    bound(serialize = "K: TenantIdType", deserialize = "K: TenantIdType")
)]
pub struct Tenant<K = Uuid>(Arc<TenantData<K>>);

impl<K> Clone for Tenant<K> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<K: PartialEq> PartialEq for Tenant<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: TenantIdType> Tenant<K> {
    /// Starts building a tenant. The display name defaults to the slug.
    pub fn builder(id: TenantId<K>, slug: TenantSlug) -> TenantBuilder<K> {
        TenantBuilder {
            data: TenantData {
                id,
                name: slug.as_str().to_owned(),
                slug,
                status: TenantStatus::Active,
                settings: TenantSettings::default(),
                impersonated_by: None,
            },
        }
    }

    /// A builder holding a copy of this tenant, to derive a changed tenant.
    pub fn to_builder(&self) -> TenantBuilder<K> {
        TenantBuilder {
            data: TenantData {
                id: self.0.id.clone(),
                slug: self.0.slug.clone(),
                name: self.0.name.clone(),
                status: self.0.status,
                settings: self.0.settings.clone(),
                impersonated_by: None,
            },
        }
    }

    /// The tenant's id (a copy for UUID and integer ids).
    pub fn id(&self) -> TenantId<K> {
        self.0.id.clone()
    }

    /// The tenant's id, borrowed.
    pub fn id_ref(&self) -> &TenantId<K> {
        &self.0.id
    }

    /// The tenant's slug.
    pub fn slug(&self) -> &TenantSlug {
        &self.0.slug
    }

    /// The tenant's display name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The tenant's status.
    pub fn status(&self) -> TenantStatus {
        self.0.status
    }

    /// The staff member acting as this tenant's user, when the request
    /// came with an impersonation token (see tenancy-tower's
    /// `TenantClaim::impersonation`). The activity trail records it next to
    /// the actor, so the tenant sees who really acted.
    pub fn impersonated_by(&self) -> Option<&str> {
        self.0.impersonated_by.as_deref()
    }

    /// This tenant, with `staff` acting as its user. Set by the tenant
    /// layer for an impersonation token; a stored or deserialized tenant
    /// never carries it.
    #[must_use]
    pub fn impersonated(&self, staff: &str) -> Self {
        let mut data = self.to_builder().data;
        data.impersonated_by = Some(staff.into());
        Self(Arc::new(data))
    }

    /// The tenant's settings.
    pub fn settings(&self) -> &TenantSettings {
        &self.0.settings
    }

    /// Where the tenant's data lives (from its settings).
    pub fn placement(&self) -> &Placement {
        &self.0.settings.placement
    }

    /// Whether the tenant may be served.
    pub fn is_active(&self) -> bool {
        self.0.status == TenantStatus::Active
    }

    /// Whether the tenant's data is being moved: reads only, writes frozen
    /// ([`TenantStatus::Moving`]).
    pub fn is_moving(&self) -> bool {
        self.0.status == TenantStatus::Moving
    }

    /// `Ok(())` for an active tenant, [`TenantError::Inactive`] otherwise.
    pub fn ensure_active(&self) -> Result<(), TenantError> {
        if self.is_active() {
            Ok(())
        } else {
            Err(TenantError::Inactive {
                id: self.0.id.to_string(),
                status: self.status().as_str(),
            })
        }
    }

    /// A cache key in this tenant's namespace: `tenant:{id}:{key}`.
    ///
    /// See also [`crate::cache_key`], which takes the tenant from the context.
    pub fn cache_key(&self, key: &str) -> String {
        self.0.id.cache_key(key)
    }
}

impl<K: fmt::Debug> fmt::Debug for Tenant<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.0.id)
            .field("slug", &self.0.slug.as_str())
            .field("name", &self.0.name)
            .field("status", &self.0.status)
            .field("settings", &self.0.settings)
            .finish()
    }
}

/// Builds a [`Tenant`]; see [`Tenant::builder`].
#[derive(Debug)]
pub struct TenantBuilder<K = Uuid> {
    data: TenantData<K>,
}

impl<K: TenantIdType> TenantBuilder<K> {
    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.data.name = name.into();
        self
    }

    /// Sets the status.
    #[must_use]
    pub fn status(mut self, status: TenantStatus) -> Self {
        self.data.status = status;
        self
    }

    /// Sets the settings.
    #[must_use]
    pub fn settings(mut self, settings: TenantSettings) -> Self {
        self.data.settings = settings;
        self
    }

    /// Finishes the tenant.
    pub fn build(self) -> Tenant<K> {
        Tenant(Arc::new(self.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap())
            .name("Acme")
            .settings(
                TenantSettings::default()
                    .with_plan("pro")
                    .with_limits(TenantLimits::none().with_requests_per_second(10))
                    .with_extra("color", serde_json::json!("red")),
            )
            .build()
    }

    #[test]
    fn clone_shares_the_data() {
        let a = acme();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.0, &b.0));
    }

    #[test]
    fn serde_round_trip() {
        let a = acme();
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["slug"], "acme");
        assert_eq!(json["status"], "active");
        assert_eq!(json["settings"]["plan"], "pro");
        assert_eq!(json["settings"]["color"], "red");
        let back: Tenant = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn suspended_tenant_is_not_active() {
        let s = acme().to_builder().status(TenantStatus::Suspended).build();
        assert!(!s.is_active());
        assert!(matches!(
            s.ensure_active(),
            Err(TenantError::Inactive {
                status: "suspended",
                ..
            })
        ));
    }
}
