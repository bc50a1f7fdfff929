//! Per-tenant usage metering for [tenancy](https://example.invalid/tenancy):
//! what each tenant uses, for dashboards, billing and quotas.
//!
//! - [`MeterLayer`]: a tower layer (after the tenant layer) that counts
//!   every request per tenant, by route and status class, with its
//!   latency, and exports them through the [`metrics`] facade: pick any
//!   exporter (Prometheus, OpenTelemetry, ...).
//! - [`TenantLabels`]: the guard against label-cardinality explosions. Only
//!   the busiest tenants, or those on chosen plans, get a `tenant` label of
//!   their own; the rest are `"other"`.
//! - [`UsageLedger`]: every tenant's usage under its own id, in memory,
//!   taken in periods; [`UsageLedger::record_transaction`] adds database
//!   use, and with feature `postgres` the ledger observes a metered
//!   `TenantPool` (tenancy-sqlx's `TxMeter`): every transaction, its time
//!   and the rows it wrote, counted by PostgreSQL.
//! - [`QuotaLayer`]: a tenant over its plan's [`Quota`] (requests per day,
//!   storage) gets a 429 with `Retry-After`, or a 403 for writes, with the
//!   reason.
//! - [`postgres::UsageStore`] (feature `postgres`): hourly and daily
//!   rollups per tenant in PostgreSQL, append-only, with retention, under
//!   row-level security; the `tenancy usage` command reports them.
//!
//! ```
//! use tenancy_metering::{MeterLayer, TenantLabels, UsageLedger};
//!
//! let ledger = UsageLedger::new(TenantLabels::top(100));
//! let layer = MeterLayer::new(ledger.clone());
//! // ... serve; then, every minute:
//! for (tenant, usage) in ledger.take() {
//!     println!("{tenant}: {} requests", usage.requests);
//! }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// For a layer that holds its state in a cloneable `$layer`: its tower
/// `Layer` impl and its service type `$service`, which holds the inner
/// service and a clone of the layer.
macro_rules! layer_service {
    ($layer:ident, $service:ident) => {
        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    layer: self.clone(),
                }
            }
        }

        #[doc = concat!("The service of [`", stringify!($layer), "`].")]
        #[derive(Debug, Clone)]
        pub struct $service<S> {
            inner: S,
            layer: $layer,
        }
    };
}

mod hash;
mod labels;
mod layer;
mod ledger;
pub mod names;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod quota;
mod route;

pub use labels::{OTHER, TenantLabels};
pub use layer::{MeterFuture, MeterLayer, MeterService};
pub use ledger::{TenantUsage, UsageLedger};
pub use quota::{Quota, QuotaLayer, QuotaService, Quotas};
