//! [`Envelope`]: a job argument that names its tenant.

use tenancy_core::{TenantId, TenantIdType, TenantJob};

use crate::JobRejected;

/// A job argument that names the tenant it runs for: [`TenantJob`], or a
/// sealed envelope (feature `sealed`) whose seal is checked first.
pub trait Envelope<K: TenantIdType>: Send + 'static {
    /// The keys that check the envelope: `()` for plain envelopes.
    type Keys: Send + Sync + 'static;

    /// The tenant the job runs for, once the envelope is checked with
    /// `keys`.
    fn tenant_id(&self, keys: &Self::Keys) -> Result<TenantId<K>, JobRejected>;
}

impl<P: Send + 'static, K: TenantIdType> Envelope<K> for TenantJob<P, K> {
    type Keys = ();

    fn tenant_id(&self, (): &()) -> Result<TenantId<K>, JobRejected> {
        Ok(TenantJob::tenant_id(self))
    }
}

#[cfg(feature = "sealed")]
#[cfg_attr(docsrs, doc(cfg(feature = "sealed")))]
impl<K: TenantIdType> Envelope<K> for tenancy_core::sealed_job::SealedJob<K> {
    type Keys = tenancy_core::sealed_job::JobKeys;

    fn tenant_id(
        &self,
        keys: &tenancy_core::sealed_job::JobKeys,
    ) -> Result<TenantId<K>, JobRejected> {
        // The payload's type is the handler's business: checking the seal
        // needs only its bytes.
        let opened: TenantJob<serde::de::IgnoredAny, K> = keys.open(self)?;
        Ok(opened.tenant_id())
    }
}
