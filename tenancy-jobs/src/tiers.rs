//! [`TierQueues`]: which queue a tenant's jobs go to, by plan.

use std::borrow::Cow;
use std::collections::HashMap;

use tenancy_core::{Tenant, TenantIdType};

/// Which queue a tenant's jobs go to, by its plan
/// ([`TenantSettings::plan`](tenancy_core::TenantSettings::plan)), as
/// operators of hosted software run tiers:
///
/// - every plan not listed (the free tier, say) shares one queue, served by
///   few workers at low concurrency, fairly between tenants
///   ([`TenantQueues`](crate::TenantQueues));
/// - a paid plan gets a queue of its own ([`plan`](Self::plan)), so free
///   tenants never delay it;
/// - a plan whose tenants each get a queue, and so a worker pool, of their
///   own ([`dedicated`](Self::dedicated)): `<prefix>:<slug>`.
///
/// ```
/// use tenancy_core::{Tenant, TenantId, TenantSettings};
/// use tenancy_jobs::TierQueues;
///
/// let tiers = TierQueues::new("jobs:shared")
///     .plan("pro", "jobs:pro")
///     .dedicated("enterprise", "jobs:enterprise");
/// let tenant = |slug: &str, plan: &str| {
///     Tenant::builder(TenantId::new_v4(), slug.parse().unwrap())
///         .settings(TenantSettings::default().with_plan(plan))
///         .build()
/// };
/// assert_eq!(tiers.queue_for(&tenant("cafe", "free")), "jobs:shared");
/// assert_eq!(tiers.queue_for(&tenant("chain", "pro")), "jobs:pro");
/// assert_eq!(tiers.queue_for(&tenant("acme", "enterprise")), "jobs:enterprise:acme");
/// ```
#[derive(Debug, Clone)]
pub struct TierQueues {
    shared: String,
    plans: HashMap<String, Tier>,
}

#[derive(Debug, Clone)]
enum Tier {
    Queue(String),
    Dedicated(String),
}

impl TierQueues {
    /// Tenants of every plan not listed share `shared`.
    pub fn new(shared: impl Into<String>) -> Self {
        Self {
            shared: shared.into(),
            plans: HashMap::new(),
        }
    }

    /// Tenants on `plan` share `queue`.
    #[must_use]
    pub fn plan(mut self, plan: impl Into<String>, queue: impl Into<String>) -> Self {
        self.plans.insert(plan.into(), Tier::Queue(queue.into()));
        self
    }

    /// Each tenant on `plan` has a queue of its own, `<prefix>:<slug>`.
    #[must_use]
    pub fn dedicated(mut self, plan: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.plans
            .insert(plan.into(), Tier::Dedicated(prefix.into()));
        self
    }

    /// The queue of `tenant`'s jobs.
    pub fn queue_for<K: TenantIdType>(&self, tenant: &Tenant<K>) -> Cow<'_, str> {
        let tier = tenant
            .settings()
            .plan
            .as_ref()
            .and_then(|plan| self.plans.get(plan));
        match tier {
            None => Cow::Borrowed(&self.shared),
            Some(Tier::Queue(queue)) => Cow::Borrowed(queue),
            Some(Tier::Dedicated(prefix)) => Cow::Owned(format!("{prefix}:{}", tenant.slug())),
        }
    }
}
