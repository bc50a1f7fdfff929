//! [`TenantJob`]: background job payloads that carry their tenant.

use std::future::Future;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Tenant, TenantContext, TenantContextOf, TenantError, TenantId, TenantIdType};

/// A job payload together with the id of the tenant it belongs to.
///
/// Queue the envelope (it is serde-serializable), and on the worker side look
/// the tenant up by [`TenantJob::tenant_id`] and call [`TenantJob::run`]: the
/// job body then runs inside that tenant's [`TenantContext`] scope. `run`
/// refuses a tenant with another id and a tenant that is not active.
///
/// A job made while staff impersonate the tenant's user (a tenant with
/// [`Tenant::impersonated_by`]) keeps that mark, and runs with it: what
/// the job writes is trailed as the staff member's doing, as the request
/// that queued it was.
///
/// The envelope is plain data: anyone who can write to the queue can change
/// its tenant id. Where the queue is not fully trusted, seal it (feature
/// `sealed-jobs`, `sealed_job::JobKeys::seal`): an HMAC over tenant,
/// payload and impersonation mark, refused by the worker when any was
/// changed.
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantId, TenantJob};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tenancy_core::TenantError> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
///
/// // Producer, inside a request for acme:
/// let job = TenantContext::sync_scope(acme.clone(), || TenantJob::new("send-receipt:42"))?;
/// let wire = serde_json::to_string(&job).expect("serializable");
///
/// // Worker:
/// let job: TenantJob<String> = serde_json::from_str(&wire).expect("valid job");
/// let tenant = acme; // look it up by job.tenant_id() in your tenant store
/// let key = job
///     .run(tenant, |payload| async move { tenancy_core::cache_key(&payload) })
///     .await??;
/// assert!(key.ends_with(":send-receipt:42"));
/// # Ok(())
/// # }
/// ```
///
/// With tenant ids of another type, wrap the payload with
/// [`TenantJob::for_tenant`] and the tenant from your context alias
/// (`TenantJob::for_tenant(&TenantContext::current()?, payload)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "P: Serialize, K: TenantIdType",
    deserialize = "P: Deserialize<'de>, K: TenantIdType"
))]
pub struct TenantJob<P, K = Uuid> {
    tenant_id: TenantId<K>,
    /// The staff member who impersonated the tenant's user where the job
    /// was made. Left out of the JSON when nobody did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    impersonated_by: Option<String>,
    payload: P,
}

impl<P> TenantJob<P> {
    /// Wraps `payload` for the current tenant (UUID ids); fails closed
    /// without one.
    pub fn new(payload: P) -> Result<Self, TenantError> {
        Ok(Self::for_tenant(&TenantContext::current()?, payload))
    }
}

impl<P, K: TenantIdType> TenantJob<P, K> {
    /// Wraps `payload` for an explicitly given tenant (and the staff
    /// member impersonating its user, if one is).
    pub fn for_tenant(tenant: &Tenant<K>, payload: P) -> Self {
        Self::from_parts(
            tenant.id(),
            tenant.impersonated_by().map(str::to_owned),
            payload,
        )
    }

    pub(crate) fn from_parts(
        tenant_id: TenantId<K>,
        impersonated_by: Option<String>,
        payload: P,
    ) -> Self {
        Self {
            tenant_id,
            impersonated_by,
            payload,
        }
    }

    /// The id of the tenant the job belongs to.
    pub fn tenant_id(&self) -> TenantId<K> {
        self.tenant_id.clone()
    }

    /// The staff member who impersonated the tenant's user when the job
    /// was made, if one did.
    pub fn impersonated_by(&self) -> Option<&str> {
        self.impersonated_by.as_deref()
    }

    /// The payload.
    pub fn payload(&self) -> &P {
        &self.payload
    }

    /// Runs the job body inside `tenant`'s scope, impersonated by the
    /// job's staff member if it has one.
    ///
    /// Fails with [`TenantError::Mismatch`] if `tenant` is not the job's
    /// tenant and with [`TenantError::Inactive`] if it is suspended; the body
    /// does not run then.
    pub async fn run<F, Fut>(self, tenant: Tenant<K>, body: F) -> Result<Fut::Output, TenantError>
    where
        F: FnOnce(P) -> Fut,
        Fut: Future,
    {
        if *tenant.id_ref() != self.tenant_id {
            return Err(TenantError::Mismatch {
                expected: self.tenant_id.to_string(),
                found: tenant.id_ref().to_string(),
            });
        }
        tenant.ensure_active()?;
        let tenant = match &self.impersonated_by {
            Some(staff) => tenant.impersonated(staff),
            None => tenant,
        };
        Ok(TenantContextOf::scope(tenant, body(self.payload)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantStatus;

    fn tenant(slug: &str) -> Tenant {
        Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build()
    }

    #[test]
    fn new_fails_closed_without_a_tenant() {
        assert_eq!(TenantJob::new(1).unwrap_err(), TenantError::Missing);
    }

    #[tokio::test]
    async fn run_refuses_another_tenant_and_does_not_run_the_body() {
        let (a, b) = (tenant("a"), tenant("b"));
        let job = TenantJob::for_tenant(&a, ());
        let err = job
            .run(b.clone(), |()| async { panic!("body must not run") })
            .await
            .unwrap_err();
        assert_eq!(
            err,
            TenantError::Mismatch {
                expected: a.id().to_string(),
                found: b.id().to_string()
            }
        );
    }

    #[tokio::test]
    async fn run_refuses_a_suspended_tenant() {
        let a = tenant("a");
        let job = TenantJob::for_tenant(&a, ());
        let suspended = a.to_builder().status(TenantStatus::Suspended).build();
        let err = job.run(suspended, |()| async {}).await.unwrap_err();
        assert!(matches!(err, TenantError::Inactive { .. }));
    }

    #[tokio::test]
    async fn run_scopes_the_body_and_round_trips_through_json() {
        let a = tenant("a");
        let job = TenantJob::for_tenant(&a, vec![1, 2, 3]);
        let json = serde_json::to_string(&job).unwrap();
        let job: TenantJob<Vec<u8>> = serde_json::from_str(&json).unwrap();
        let (seen, payload) = job
            .run(a.clone(), |p| async move { (TenantContext::current(), p) })
            .await
            .unwrap();
        assert_eq!(seen.unwrap().id(), a.id());
        assert_eq!(payload, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_job_made_while_impersonated_runs_impersonated() {
        let a = tenant("a");
        let job = TenantJob::for_tenant(&a.impersonated("jane@staff"), 7);
        assert_eq!(job.impersonated_by(), Some("jane@staff"));
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["impersonated_by"], "jane@staff");
        let job: TenantJob<u8> = serde_json::from_value(json).unwrap();
        // The worker's tenant comes from the store, unmarked.
        let seen = job
            .run(a.clone(), |_| async {
                TenantContext::current()
                    .unwrap()
                    .impersonated_by()
                    .map(str::to_owned)
            })
            .await
            .unwrap();
        assert_eq!(seen.as_deref(), Some("jane@staff"));

        // Without an impersonation: no field on the wire, no mark.
        let plain = TenantJob::for_tenant(&a, 7);
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("impersonated_by").is_none(), "{json}");
        let seen = plain
            .run(a, |_| async {
                TenantContext::current()
                    .unwrap()
                    .impersonated_by()
                    .is_some()
            })
            .await
            .unwrap();
        assert!(!seen);
    }
}
