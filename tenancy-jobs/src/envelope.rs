//! [`Envelope`]: a job argument that names its tenant, and [`JobAddress`]:
//! what a checked envelope names.

use tenancy_core::uuid::Uuid;
use tenancy_core::{TenantId, TenantIdType, TenantJob};

use crate::JobRejected;

/// A job argument that names the tenant it runs for: [`TenantJob`], or a
/// sealed envelope (feature `sealed`) whose seal is checked first.
pub trait Envelope<K: TenantIdType>: Send + 'static {
    /// The keys that check the envelope: `()` for plain envelopes.
    type Keys: Send + Sync + 'static;

    /// The tenant the job runs for (and the staff member impersonating its
    /// user, if the job was made so), once the envelope is checked with
    /// `keys`.
    fn address(&self, keys: &Self::Keys) -> Result<JobAddress<K>, JobRejected>;
}

/// Who a job runs for, as its checked [`Envelope`] says: a tenant, and the
/// staff member who impersonated the tenant's user where the job was made,
/// if one did (the job then runs impersonated, so the activity trail names
/// them).
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_jobs::JobAddress;
///
/// let id = TenantId::new_v4();
/// let address = JobAddress::new(id).with_impersonator("jane@staff");
/// assert_eq!(address.tenant_id(), &id);
/// assert_eq!(address.impersonated_by(), Some("jane@staff"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobAddress<K: TenantIdType = Uuid> {
    tenant_id: TenantId<K>,
    impersonated_by: Option<String>,
}

impl<K: TenantIdType> JobAddress<K> {
    /// A job for `tenant_id`, made by the tenant's own user.
    pub fn new(tenant_id: TenantId<K>) -> Self {
        Self {
            tenant_id,
            impersonated_by: None,
        }
    }

    /// The same job, made while `staff` impersonated the tenant's user.
    #[must_use]
    pub fn with_impersonator(mut self, staff: impl Into<String>) -> Self {
        self.impersonated_by = Some(staff.into());
        self
    }

    /// The tenant the job runs for.
    pub fn tenant_id(&self) -> &TenantId<K> {
        &self.tenant_id
    }

    /// The staff member who impersonated the tenant's user, if one did.
    pub fn impersonated_by(&self) -> Option<&str> {
        self.impersonated_by.as_deref()
    }
}

impl<P, K: TenantIdType> From<&TenantJob<P, K>> for JobAddress<K> {
    fn from(job: &TenantJob<P, K>) -> Self {
        Self {
            tenant_id: job.tenant_id(),
            impersonated_by: job.impersonated_by().map(str::to_owned),
        }
    }
}

impl<P: Send + 'static, K: TenantIdType> Envelope<K> for TenantJob<P, K> {
    type Keys = ();

    fn address(&self, (): &()) -> Result<JobAddress<K>, JobRejected> {
        Ok(JobAddress::from(self))
    }
}

#[cfg(feature = "sealed")]
#[cfg_attr(docsrs, doc(cfg(feature = "sealed")))]
impl<K: TenantIdType> Envelope<K> for tenancy_core::sealed_job::SealedJob<K> {
    type Keys = tenancy_core::sealed_job::JobKeys;

    fn address(
        &self,
        keys: &tenancy_core::sealed_job::JobKeys,
    ) -> Result<JobAddress<K>, JobRejected> {
        // The payload's type is the handler's business: checking the seal
        // needs only its bytes.
        let opened: TenantJob<serde::de::IgnoredAny, K> = keys.open(self)?;
        Ok(JobAddress::from(&opened))
    }
}
