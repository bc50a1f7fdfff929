//! [`UsageLedger`]: what each tenant used since the ledger was last taken.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use metrics::{Counter, Histogram, SharedString};
use tenancy_core::{AnyTenant, AnyTenantId};

use crate::hash::FxHashMap;
use crate::labels::{TenantLabels, other_label, own_label};
use crate::names;
use crate::route::{Route, status_class};

/// What one tenant used in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantUsage {
    /// Requests served (every status).
    pub requests: u64,
    /// Requests answered with a 4xx status.
    pub client_errors: u64,
    /// Requests answered with a 5xx status.
    pub server_errors: u64,
    /// Time spent serving requests, in microseconds.
    pub request_micros: u64,
    /// Database transactions.
    pub transactions: u64,
    /// Time spent in database transactions, in microseconds.
    pub transaction_micros: u64,
    /// Rows inserted, updated or deleted.
    pub rows_written: u64,
}

impl TenantUsage {
    fn add(&mut self, other: &Self) {
        self.requests = self.requests.saturating_add(other.requests);
        self.client_errors = self.client_errors.saturating_add(other.client_errors);
        self.server_errors = self.server_errors.saturating_add(other.server_errors);
        self.request_micros = self.request_micros.saturating_add(other.request_micros);
        self.transactions = self.transactions.saturating_add(other.transactions);
        self.transaction_micros = self
            .transaction_micros
            .saturating_add(other.transaction_micros);
        self.rows_written = self.rows_written.saturating_add(other.rows_written);
    }

    /// The usage as `(metric, value)` pairs, with the metric names used in
    /// the rollups.
    pub fn metrics(&self) -> [(&'static str, u64); 7] {
        [
            (names::REQUESTS, self.requests),
            (names::CLIENT_ERRORS, self.client_errors),
            (names::SERVER_ERRORS, self.server_errors),
            (names::REQUEST_MICROS, self.request_micros),
            (names::TRANSACTIONS, self.transactions),
            (names::TRANSACTION_MICROS, self.transaction_micros),
            (names::ROWS_WRITTEN, self.rows_written),
        ]
    }
}

/// Counts what each tenant uses, in memory, and gives it out in periods:
/// [`take`](Self::take) returns every tenant's usage since the last take
/// and starts a new period. A flusher (for example
/// [`UsageStore::flush`](crate::postgres::UsageStore::flush) every minute)
/// takes it and keeps it.
///
/// Every tenant is counted under its own id, whatever
/// [`TenantLabels`] allows in the exported metrics.
///
/// Cloning is cheap and shares the counts: give one ledger to the
/// [`MeterLayer`](crate::MeterLayer) and to the code that records database
/// use.
#[derive(Debug, Clone)]
pub struct UsageLedger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    labels: TenantLabels,
    period: Mutex<Period>,
}

#[derive(Debug, Default)]
struct Period {
    tenants: FxHashMap<AnyTenantId, Entry>,
    /// The tenants labelled in this period, chosen at the last take; `None`
    /// before the first take (the first tenants seen are labelled).
    chosen: Option<HashSet<AnyTenantId>>,
    labelled: usize,
}

/// A tenant in a period: its usage, and the handles of its exported
/// metrics, registered once per period so that a request costs the
/// recorder no key and no allocation.
#[derive(Debug)]
struct Entry {
    label: SharedString,
    eligible: bool,
    usage: TenantUsage,
    /// By route and status class: the request counter and the duration
    /// histogram.
    requests: FxHashMap<(u16, u8), (Counter, Histogram)>,
    /// The transaction counter and histogram and the rows counter.
    transactions: Option<(Counter, Histogram, Counter)>,
}

impl Entry {
    fn new(label: SharedString, eligible: bool) -> Self {
        Self {
            label,
            eligible,
            usage: TenantUsage::default(),
            requests: FxHashMap::default(),
            transactions: None,
        }
    }
}

impl UsageLedger {
    /// An empty ledger whose exported metrics label tenants as `labels`
    /// says.
    pub fn new(labels: TenantLabels) -> Self {
        Self {
            inner: Arc::new(Inner {
                labels,
                period: Mutex::new(Period::default()),
            }),
        }
    }

    fn period(&self) -> MutexGuard<'_, Period> {
        self.inner
            .period
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the entry of this period of the tenant `id` on `plan`,
    /// made if need be.
    fn update<R>(&self, id: AnyTenantId, plan: Option<&str>, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut period = self.period();
        if let Some(entry) = period.tenants.get_mut(&id) {
            return f(entry);
        }
        let eligible = self.inner.labels.eligible(plan);
        let own = eligible
            && period.labelled < self.inner.labels.max
            && period
                .chosen
                .as_ref()
                .is_none_or(|chosen| chosen.contains(&id));
        let label = if own {
            period.labelled += 1;
            own_label(&id)
        } else {
            other_label()
        };
        f(period
            .tenants
            .entry(id)
            .or_insert(Entry::new(label, eligible)))
    }

    /// Counts a request of `tenant` to `route` answered with `status` after
    /// `elapsed`, in the ledger and in the exported metrics.
    pub(crate) fn request(
        &self,
        tenant: &AnyTenant,
        route: &Route,
        status: u16,
        elapsed: Duration,
    ) {
        self.update(AnyTenantId::from(tenant), plan_of(tenant), |entry| {
            let usage = &mut entry.usage;
            usage.requests = usage.requests.saturating_add(1);
            usage.client_errors = usage
                .client_errors
                .saturating_add(u64::from((400..500).contains(&status)));
            usage.server_errors = usage.server_errors.saturating_add(u64::from(status >= 500));
            usage.request_micros = usage.request_micros.saturating_add(micros(elapsed));
            let class = status_class(status);
            let label = &entry.label;
            let (counter, histogram) = entry
                .requests
                .entry((route.id, class.as_bytes()[0]))
                .or_insert_with(|| {
                    (
                        metrics::counter!(
                            names::REQUESTS_TOTAL,
                            names::TENANT => label.clone(),
                            names::ROUTE => route.label.clone(),
                            names::STATUS => class,
                        ),
                        metrics::histogram!(
                            names::REQUEST_SECONDS,
                            names::TENANT => label.clone(),
                            names::ROUTE => route.label.clone(),
                        ),
                    )
                });
            counter.increment(1);
            histogram.record(elapsed.as_secs_f64());
        });
    }

    /// Counts a database transaction of `tenant` that took `elapsed` and
    /// wrote `rows_written` rows, in the ledger and in the exported metrics
    /// (`tenancy_db_transactions_total`,
    /// `tenancy_db_transaction_duration_seconds` and
    /// `tenancy_db_rows_written_total`).
    ///
    /// A metered `TenantPool` (tenancy-sqlx) calls this for you when the
    /// ledger is its observer (feature `postgres`):
    /// `TenantPool::new(pg).metered(TxMeter::new(ledger.clone()))`.
    pub fn record_transaction(&self, tenant: &AnyTenant, elapsed: Duration, rows_written: u64) {
        self.transaction(
            AnyTenantId::from(tenant),
            plan_of(tenant),
            elapsed,
            rows_written,
        );
    }

    /// [`record_transaction`](Self::record_transaction) of the tenant `id`
    /// on `plan`.
    pub(crate) fn transaction(
        &self,
        id: AnyTenantId,
        plan: Option<&str>,
        elapsed: Duration,
        rows_written: u64,
    ) {
        self.update(id, plan, |entry| {
            let usage = &mut entry.usage;
            usage.transactions = usage.transactions.saturating_add(1);
            usage.transaction_micros = usage.transaction_micros.saturating_add(micros(elapsed));
            usage.rows_written = usage.rows_written.saturating_add(rows_written);
            let label = &entry.label;
            let (transactions, seconds, rows) = entry.transactions.get_or_insert_with(|| {
                (
                    metrics::counter!(names::DB_TRANSACTIONS_TOTAL, names::TENANT => label.clone()),
                    metrics::histogram!(names::DB_TRANSACTION_SECONDS, names::TENANT => label.clone()),
                    metrics::counter!(names::DB_ROWS_WRITTEN_TOTAL, names::TENANT => label.clone()),
                )
            });
            transactions.increment(1);
            seconds.record(elapsed.as_secs_f64());
            rows.increment(rows_written);
        });
    }

    /// Puts usage that was [taken](Self::take) but could not be kept (the
    /// database was down) back into the ledger, added to what was counted
    /// since, so that the next flush keeps it. Nothing is counted twice as
    /// long as each taken usage is either kept or restored.
    pub fn restore(&self, taken: Vec<(AnyTenantId, TenantUsage)>) {
        let mut period = self.period();
        for (id, usage) in taken {
            period
                .tenants
                .entry(id)
                .or_insert_with(|| Entry::new(other_label(), false))
                .usage
                .add(&usage);
        }
    }

    /// Every tenant's usage since the last take, ordered by tenant id, and
    /// a new period. The tenants labelled in the new period are the busiest
    /// (by requests, then transactions) that may have a label.
    pub fn take(&self) -> Vec<(AnyTenantId, TenantUsage)> {
        let mut period = self.period();
        let tenants = std::mem::take(&mut period.tenants);
        let mut busiest: Vec<(&AnyTenantId, &Entry)> =
            tenants.iter().filter(|(_, e)| e.eligible).collect();
        busiest.sort_by(|(a, x), (b, y)| {
            (y.usage.requests, y.usage.transactions, a).cmp(&(
                x.usage.requests,
                x.usage.transactions,
                b,
            ))
        });
        period.chosen = Some(
            busiest
                .into_iter()
                .take(self.inner.labels.max)
                .map(|(id, _)| id.clone())
                .collect(),
        );
        period.labelled = 0;
        drop(period);
        let mut usage: Vec<(AnyTenantId, TenantUsage)> =
            tenants.into_iter().map(|(id, e)| (id, e.usage)).collect();
        usage.sort_by(|(a, _), (b, _)| a.cmp(b));
        usage
    }
}

/// The tenant's plan, for [`TenantLabels::plans`].
fn plan_of(tenant: &AnyTenant) -> Option<&str> {
    tenant.settings().plan.as_deref()
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use tenancy_core::{Tenant, TenantId};

    use super::*;

    #[test]
    fn counts_saturate_instead_of_overflowing() {
        let tenant = AnyTenant::from(
            Tenant::builder(
                TenantId::new_v4(),
                "t".parse().unwrap_or_else(|_| unreachable!()),
            )
            .build(),
        );
        let ledger = UsageLedger::new(TenantLabels::none());
        ledger.record_transaction(&tenant, Duration::MAX, u64::MAX);
        ledger.record_transaction(&tenant, Duration::MAX, u64::MAX);
        let taken = ledger.take();
        ledger.restore(taken.clone());
        ledger.restore(taken);
        let usage = ledger.take()[0].1;
        assert_eq!(
            (
                usage.transactions,
                usage.transaction_micros,
                usage.rows_written
            ),
            (4, u64::MAX, u64::MAX)
        );
    }
}
