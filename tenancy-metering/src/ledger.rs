//! [`UsageLedger`]: what each tenant used since the ledger was last taken.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use metrics::SharedString;
use tenancy_core::{AnyTenant, AnyTenantId};

use crate::labels::{TenantLabels, other_label, own_label};
use crate::names;

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
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.request_micros += other.request_micros;
        self.transactions += other.transactions;
        self.transaction_micros += other.transaction_micros;
        self.rows_written += other.rows_written;
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
    tenants: HashMap<AnyTenantId, Entry>,
    /// The tenants labelled in this period, chosen at the last take; `None`
    /// before the first take (the first tenants seen are labelled).
    chosen: Option<HashSet<AnyTenantId>>,
    labelled: usize,
}

#[derive(Debug)]
struct Entry {
    label: SharedString,
    eligible: bool,
    usage: TenantUsage,
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

    /// Runs `f` on `tenant`'s entry of this period and returns its metrics
    /// label.
    fn update(&self, tenant: &AnyTenant, f: impl FnOnce(&mut TenantUsage)) -> SharedString {
        let id = AnyTenantId::from(tenant);
        let mut period = self.period();
        if let Some(entry) = period.tenants.get_mut(&id) {
            f(&mut entry.usage);
            return entry.label.clone();
        }
        let eligible = self.inner.labels.eligible(tenant);
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
        let mut usage = TenantUsage::default();
        f(&mut usage);
        period.tenants.insert(
            id,
            Entry {
                label: label.clone(),
                eligible,
                usage,
            },
        );
        label
    }

    /// Counts a request of `tenant` answered with `status` after `elapsed`,
    /// and returns the tenant's metrics label.
    pub(crate) fn request(
        &self,
        tenant: &AnyTenant,
        status: u16,
        elapsed: Duration,
    ) -> SharedString {
        self.update(tenant, |usage| {
            usage.requests += 1;
            usage.client_errors += u64::from((400..500).contains(&status));
            usage.server_errors += u64::from(status >= 500);
            usage.request_micros += micros(elapsed);
        })
    }

    /// Counts a database transaction of `tenant` that took `elapsed` and
    /// wrote `rows_written` rows, in the ledger and in the exported metrics
    /// (`tenancy_db_transactions_total`,
    /// `tenancy_db_transaction_duration_seconds` and
    /// `tenancy_db_rows_written_total`).
    pub fn record_transaction(&self, tenant: &AnyTenant, elapsed: Duration, rows_written: u64) {
        let label = self.update(tenant, |usage| {
            usage.transactions += 1;
            usage.transaction_micros += micros(elapsed);
            usage.rows_written += rows_written;
        });
        metrics::counter!(names::DB_TRANSACTIONS_TOTAL, names::TENANT => label.clone())
            .increment(1);
        metrics::histogram!(names::DB_TRANSACTION_SECONDS, names::TENANT => label.clone())
            .record(elapsed.as_secs_f64());
        metrics::counter!(names::DB_ROWS_WRITTEN_TOTAL, names::TENANT => label)
            .increment(rows_written);
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
                .or_insert_with(|| Entry {
                    label: other_label(),
                    eligible: false,
                    usage: TenantUsage::default(),
                })
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

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}
