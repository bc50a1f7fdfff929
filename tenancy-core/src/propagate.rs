//! Carrying the tenant into spawned tasks and other futures.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio::task::futures::TaskLocalFuture;

use crate::{AnyTenant, Tenant, TenantError, TenantIdType};

/// Attaches a tenant to a future, like `tracing`'s `Instrument` attaches a span.
///
/// Use it for futures that run outside the scope that created them, such as
/// `tokio::spawn`ed tasks or streamed response bodies:
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantId, WithTenant};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// let handle = tokio::spawn(async { TenantContext::current() }.with_tenant(acme.clone()));
/// assert_eq!(handle.await??.id(), acme.id());
/// # Ok(())
/// # }
/// ```
pub trait WithTenant: Future + Sized {
    /// Runs this future with `tenant` as the current tenant.
    fn with_tenant<K: TenantIdType>(self, tenant: Tenant<K>) -> TaskLocalFuture<AnyTenant, Self> {
        AnyTenant::from(tenant).scope(self)
    }

    /// Runs this future with the tenant that is current *now*, at the call.
    /// Fails with [`TenantError::Missing`] when there is none.
    fn with_current_tenant(self) -> Result<TaskLocalFuture<AnyTenant, Self>, TenantError> {
        Ok(AnyTenant::current()?.scope(self))
    }
}

impl<F: Future> WithTenant for F {}

/// `tokio::spawn` that carries the current tenant into the new task.
///
/// A plain `tokio::spawn` starts the task **without** a tenant, so
/// [`TenantContext::current`](crate::TenantContextOf::current) fails there. This helper captures the current
/// tenant and re-scopes the task. It fails with [`TenantError::Missing`] when
/// called outside a tenant scope, so a job can never start tenant-less.
///
/// Must be called from inside a tokio runtime.
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// let seen = TenantContext::scope(acme.clone(), async {
///     let handle = tenancy_core::spawn(async { TenantContext::current() })?;
///     Ok::<_, Box<dyn std::error::Error>>(handle.await??)
/// })
/// .await?;
/// assert_eq!(seen.id(), acme.id());
/// # Ok(())
/// # }
/// ```
pub fn spawn<F>(future: F) -> Result<JoinHandle<F::Output>, TenantError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tenant = AnyTenant::current()?;
    Ok(tokio::spawn(tenant.scope(future)))
}

/// `tokio::task::spawn_blocking` that carries the current tenant into the
/// blocking closure.
///
/// A plain `spawn_blocking` runs the closure **without** a tenant. This helper
/// captures the current tenant and runs the closure in
/// [`TenantContext::sync_scope`](crate::TenantContextOf::sync_scope). It fails with [`TenantError::Missing`]
/// outside a tenant scope.
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// let key = TenantContext::scope(acme.clone(), async {
///     let handle = tenancy_core::spawn_blocking(|| tenancy_core::cache_key("report"))?;
///     Ok::<_, Box<dyn std::error::Error>>(handle.await??)
/// })
/// .await?;
/// assert_eq!(key, format!("tenant:{}:report", acme.id()));
/// # Ok(())
/// # }
/// ```
pub fn spawn_blocking<F, R>(f: F) -> Result<JoinHandle<R>, TenantError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let tenant = AnyTenant::current()?;
    Ok(tokio::task::spawn_blocking(move || tenant.sync_scope(f)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantContext;
    use crate::TenantId;

    fn acme() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build()
    }

    #[tokio::test]
    async fn plain_tokio_spawn_does_not_inherit_the_tenant() {
        let seen = TenantContext::scope(acme(), async {
            tokio::spawn(async { TenantContext::current() })
                .await
                .unwrap()
        })
        .await;
        assert_eq!(seen.unwrap_err(), TenantError::Missing);
    }

    #[tokio::test]
    async fn plain_spawn_blocking_does_not_inherit_the_tenant() {
        let seen = TenantContext::scope(acme(), async {
            tokio::task::spawn_blocking(TenantContext::current)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(seen.unwrap_err(), TenantError::Missing);
    }

    #[tokio::test]
    async fn helpers_carry_the_tenant() {
        let t = acme();
        let (spawned, blocking) = TenantContext::scope(t.clone(), async {
            let a = spawn(async { TenantContext::current() }).unwrap();
            let b = spawn_blocking(TenantContext::current).unwrap();
            (a.await.unwrap(), b.await.unwrap())
        })
        .await;
        assert_eq!(spawned.unwrap().id(), t.id());
        assert_eq!(blocking.unwrap().id(), t.id());
    }

    #[tokio::test]
    async fn helpers_fail_closed_without_a_tenant() {
        assert_eq!(spawn(async {}).unwrap_err(), TenantError::Missing);
        assert_eq!(spawn_blocking(|| ()).unwrap_err(), TenantError::Missing);
        assert_eq!(
            async {}.with_current_tenant().map(|_| ()).unwrap_err(),
            TenantError::Missing
        );
    }

    #[tokio::test]
    async fn with_current_tenant_captures_at_the_call() {
        let t = acme();
        let fut = TenantContext::sync_scope(t.clone(), || {
            async { TenantContext::current() }.with_current_tenant()
        })
        .unwrap();
        // Polled outside the scope that created it, it still sees the tenant.
        assert_eq!(fut.await.unwrap().id(), t.id());
    }
}
