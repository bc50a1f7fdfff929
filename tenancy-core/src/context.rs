//! [`TenantContext`]: the current tenant, carried in a tokio task-local.

use std::future::Future;
use std::marker::PhantomData;

use tokio::task::futures::TaskLocalFuture;
use uuid::Uuid;

use crate::{AnyTenant, Tenant, TenantError, TenantIdType};

tokio::task_local! {
    pub(crate) static CURRENT: AnyTenant;
}

/// Access to the current tenant for applications whose tenant ids are
/// UUIDs (the default): [`TenantContextOf<Uuid>`].
///
/// An application keyed by another id type declares its own alias once
/// and uses it everywhere, exactly as it would use this one:
///
/// ```
/// type TenantContext = tenancy_core::TenantContextOf<i64>;
///
/// assert!(TenantContext::current().is_err()); // outside any scope
/// ```
pub type TenantContext = TenantContextOf<Uuid>;

/// Access to the tenant of the code that is running now, for tenants whose
/// ids are of type `K` (see [`TenantContext`] for the UUID default).
///
/// The tenant lives in a tokio task-local: it is set for the duration of a
/// future with [`TenantContext::scope`] (or a closure with
/// [`TenantContext::sync_scope`]) and read with [`TenantContext::current`].
/// The tenancy-tower layer sets it around every request, so handlers and
/// everything they `.await` see it.
///
/// # Fail closed
///
/// [`TenantContext::current`] returns [`TenantError::Missing`] outside a
/// scope. There is no default tenant and no fallback. Asking for a tenant
/// of one id type while a tenant of another is current fails with
/// [`TenantError::WrongIdType`]: the application mixed two configurations.
///
/// # What does not inherit the tenant
///
/// The value belongs to the *future* that was scoped, not to the thread or
/// the task tree. These run **without** a tenant unless you pass it on:
///
/// - `tokio::spawn`: use [`crate::spawn`] or
///   [`WithTenant::with_tenant`](crate::WithTenant::with_tenant);
/// - `tokio::task::spawn_blocking`: use [`crate::spawn_blocking`];
/// - streamed response bodies, which the HTTP server polls after the handler
///   returned: capture the tenant in the handler and move it into the stream
///   (wrap the stream's work in `.with_tenant(tenant)`);
/// - pool callbacks such as sqlx's `after_release`.
///
/// ```
/// use tenancy_core::{Tenant, TenantContext, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tenancy_core::TenantError> {
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
///
/// assert!(TenantContext::current().is_err());
/// let slug = TenantContext::scope(acme.clone(), async {
///     TenantContext::current().map(|t| t.slug().to_string())
/// })
/// .await?;
/// assert_eq!(slug, "acme");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TenantContextOf<K> {
    _id_type: PhantomData<fn() -> K>,
}

impl<K: TenantIdType> TenantContextOf<K> {
    /// Runs `future` with `tenant` as the current tenant.
    ///
    /// Scopes nest: an inner scope overrides the outer one and the outer
    /// tenant is current again when the inner future finishes.
    pub fn scope<F: Future>(tenant: Tenant<K>, future: F) -> TaskLocalFuture<AnyTenant, F> {
        CURRENT.scope(K::erase(tenant), future)
    }

    /// Runs the synchronous closure `f` with `tenant` as the current tenant.
    pub fn sync_scope<R>(tenant: Tenant<K>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(K::erase(tenant), f)
    }

    /// The current tenant, or [`TenantError::Missing`] outside any scope.
    pub fn current() -> Result<Tenant<K>, TenantError> {
        Self::with(Tenant::clone)
    }

    /// The current tenant, or `None` outside any scope (or when the current
    /// tenant's id is of another type).
    ///
    /// Prefer [`TenantContextOf::current`] in code that needs a tenant: its
    /// error names what is missing.
    pub fn try_current() -> Option<Tenant<K>> {
        Self::current().ok()
    }

    /// Calls `f` with a reference to the current tenant without cloning it.
    pub fn with<R>(f: impl FnOnce(&Tenant<K>) -> R) -> Result<R, TenantError> {
        CURRENT
            .try_with(|any| match K::unerase(any) {
                Some(tenant) => Ok(f(tenant)),
                None => Err(TenantError::WrongIdType {
                    expected: K::SQL_TYPE.as_str(),
                    found: any.id_type().as_str(),
                }),
            })
            .map_err(|_| TenantError::Missing)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;

    fn tenant(slug: &str) -> Tenant {
        Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build()
    }

    #[test]
    fn outside_a_scope_there_is_no_tenant() {
        assert_eq!(TenantContext::current().unwrap_err(), TenantError::Missing);
        assert!(TenantContext::try_current().is_none());
        assert_eq!(
            TenantContext::with(|_| ()).unwrap_err(),
            TenantError::Missing
        );
    }

    #[test]
    fn sync_scope_sets_and_restores() {
        let acme = tenant("acme");
        let seen = TenantContext::sync_scope(acme.clone(), || TenantContext::current().unwrap());
        assert_eq!(seen.id(), acme.id());
        let tried = TenantContext::sync_scope(acme.clone(), TenantContext::try_current);
        assert_eq!(tried.map(|t| t.id()), Some(acme.id()));
        assert!(TenantContext::try_current().is_none());
    }

    #[test]
    fn a_tenant_of_another_id_type_is_not_current_for_this_one() {
        let bigint =
            Tenant::builder(TenantId::new(7_i64).unwrap(), "seven".parse().unwrap()).build();
        TenantContextOf::sync_scope(bigint, || {
            assert_eq!(
                TenantContext::current().unwrap_err(),
                TenantError::WrongIdType {
                    expected: "uuid",
                    found: "bigint"
                }
            );
            assert_eq!(
                TenantContextOf::<i64>::current().unwrap().id().to_string(),
                "7"
            );
        });
    }

    #[tokio::test]
    async fn nested_scopes_override_and_restore() {
        let outer = tenant("outer");
        let inner = tenant("inner");
        TenantContext::scope(outer.clone(), async {
            assert_eq!(TenantContext::current().unwrap().id(), outer.id());
            TenantContext::scope(inner.clone(), async {
                assert_eq!(TenantContext::current().unwrap().id(), inner.id());
            })
            .await;
            assert_eq!(TenantContext::current().unwrap().id(), outer.id());
        })
        .await;
        assert!(TenantContext::try_current().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_tasks_never_see_each_others_tenant() {
        let mut handles = Vec::new();
        for i in 0..64 {
            let t = tenant(&format!("t{i}"));
            handles.push(tokio::spawn(TenantContext::scope(t.clone(), async move {
                for _ in 0..50 {
                    tokio::task::yield_now().await;
                    let now = TenantContext::current().unwrap();
                    assert_eq!(now.id(), t.id(), "a task saw another task's tenant");
                }
                t.id()
            })));
        }
        for h in handles {
            h.await.unwrap();
        }
    }
}
