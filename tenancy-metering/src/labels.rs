//! [`TenantLabels`]: which tenants get a label of their own in metrics.

use std::collections::HashSet;
use std::sync::Arc;

use metrics::SharedString;
use tenancy_core::AnyTenantId;

/// The label value of every tenant that has no label of its own.
pub const OTHER: &str = "other";

/// Which tenants get their own `tenant` label in the exported metrics; the
/// rest share the label [`OTHER`].
///
/// A label per tenant makes one time series per tenant, route and status in
/// the monitoring system: with 10,000 tenants that is more than most
/// systems accept. So the number of tenant labels is bounded, and only the
/// tenants that matter get one: the busiest ones, or those on the plans
/// that pay for it. The usage ledger (and the rollups in PostgreSQL) still
/// count every tenant under its own id; only the exported metrics are
/// bounded.
///
/// ```
/// use tenancy_metering::TenantLabels;
///
/// // The 50 busiest tenants of the last period, the rest as "other".
/// let busiest = TenantLabels::top(50);
/// // Every tenant on the "pro" and "enterprise" plans (at most 500), the
/// // rest as "other".
/// let paying = TenantLabels::plans(["pro", "enterprise"]).max(500);
/// ```
#[derive(Debug, Clone)]
pub struct TenantLabels {
    pub(crate) max: usize,
    pub(crate) plans: Option<Arc<HashSet<String>>>,
}

impl TenantLabels {
    /// At most `n` tenants get their own label: in each period (between two
    /// [`UsageLedger::take`](crate::UsageLedger::take)s), the `n` busiest
    /// tenants of the period before; in the first period, the first `n`
    /// tenants seen.
    pub fn top(n: usize) -> Self {
        Self {
            max: n,
            plans: None,
        }
    }

    /// Only tenants on one of `plans` get their own label (at most 1,000 of
    /// them unless [`max`](Self::max) says otherwise).
    pub fn plans<P: Into<String>>(plans: impl IntoIterator<Item = P>) -> Self {
        Self {
            max: 1_000,
            plans: Some(Arc::new(plans.into_iter().map(Into::into).collect())),
        }
    }

    /// No tenant gets its own label: every metric is labelled [`OTHER`].
    pub fn none() -> Self {
        Self::top(0)
    }

    /// At most `n` tenants get their own label.
    #[must_use]
    pub fn max(self, n: usize) -> Self {
        Self { max: n, ..self }
    }

    /// Whether a tenant on `plan` may have a label of its own.
    pub(crate) fn eligible(&self, plan: Option<&str>) -> bool {
        self.plans
            .as_ref()
            .is_none_or(|plans| plan.is_some_and(|plan| plans.contains(plan)))
    }
}

impl Default for TenantLabels {
    /// The 100 busiest tenants.
    fn default() -> Self {
        Self::top(100)
    }
}

/// The label value of a tenant with its own label: its id.
pub(crate) fn own_label(id: &AnyTenantId) -> SharedString {
    SharedString::from(Arc::<str>::from(id.to_string()))
}

/// The label value of every other tenant.
pub(crate) fn other_label() -> SharedString {
    SharedString::const_str(OTHER)
}
