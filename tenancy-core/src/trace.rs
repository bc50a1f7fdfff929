//! Tracing integration (feature `tracing`, on by default).
//!
//! Record the tenant once, at the edge, as a span field; every event inside
//! the span then carries it. tenancy-tower does this for each request.

use crate::{Tenant, TenantIdType};

/// The span field that carries the tenant id.
pub const TENANT_ID_FIELD: &str = "tenant.id";

/// An `INFO` span named `tenant` with the fields `tenant.id` and `tenant.slug`.
///
/// ```
/// use tenancy_core::{Tenant, TenantId};
/// use tracing::Instrument;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tenancy_core::TenantError> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// async { tracing::info!("inside acme's span") }
///     .instrument(tenancy_core::trace::span(&acme))
///     .await;
/// # Ok(())
/// # }
/// ```
pub fn span<K: TenantIdType>(tenant: &Tenant<K>) -> tracing::Span {
    match tenant.impersonated_by() {
        None => {
            tracing::info_span!("tenant", tenant.id = %tenant.id_ref(), tenant.slug = %tenant.slug())
        }
        Some(staff) => tracing::info_span!(
            "tenant",
            tenant.id = %tenant.id_ref(),
            tenant.slug = %tenant.slug(),
            tenant.impersonated_by = staff
        ),
    }
}

/// Records the tenant id into the `tenant.id` field of `span`, which must
/// have been declared with that field (for example as
/// `tracing::info_span!("request", tenant.id = tracing::field::Empty)`).
pub fn record<K: TenantIdType>(span: &tracing::Span, tenant: &Tenant<K>) {
    span.record(TENANT_ID_FIELD, tracing::field::display(tenant.id_ref()));
}
