//! [`AnyTenant`]: a tenant of any id type, as the task-local context holds
//! it.

use std::fmt;
use std::future::Future;

use tokio::task::futures::TaskLocalFuture;
use uuid::Uuid;

use crate::context::CURRENT;
use crate::{
    Placement, Tenant, TenantError, TenantIdType, TenantSettings, TenantSlug, TenantStatus,
};

/// A tenant whatever the type of its id: what the task-local context holds,
/// and what code that does not care about the id type (cache keys, storage
/// paths, tracing, spawning) works with.
///
/// Code that binds the tenant to a database uses the typed [`Tenant<K>`],
/// through [`TenantContextOf::current`](crate::TenantContextOf::current) or
/// [`AnyTenant::downcast`].
///
/// ```
/// use tenancy_core::{AnyTenant, Tenant, TenantContextOf, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tenancy_core::TenantError> {
/// let acme = Tenant::builder(TenantId::new(42_i64)?, "acme".parse()?).build();
/// TenantContextOf::scope(acme, async {
///     let any = AnyTenant::current()?;
///     assert_eq!(any.id_display().to_string(), "42");
///     assert_eq!(any.cache_key("menu"), "tenant:42:menu");
///     assert!(any.downcast::<i64>().is_some());
///     assert!(any.downcast::<uuid::Uuid>().is_none());
///     Ok(())
/// })
/// .await
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnyTenant {
    /// A tenant with a UUID id.
    Uuid(Tenant<Uuid>),
    /// A tenant with a `bigint` id.
    BigInt(Tenant<i64>),
    /// A tenant with an `integer` id.
    Integer(Tenant<i32>),
    /// A tenant with a `text` id.
    Text(Tenant<String>),
}

/// Runs `$body` with `$tenant` bound to the typed tenant inside.
macro_rules! each {
    ($any:expr, $tenant:ident => $body:expr) => {
        match $any {
            AnyTenant::Uuid($tenant) => $body,
            AnyTenant::BigInt($tenant) => $body,
            AnyTenant::Integer($tenant) => $body,
            AnyTenant::Text($tenant) => $body,
        }
    };
}

impl AnyTenant {
    /// The current tenant, whatever its id type, or [`TenantError::Missing`]
    /// outside any scope.
    pub fn current() -> Result<Self, TenantError> {
        CURRENT.try_get().map_err(|_| TenantError::Missing)
    }

    /// Runs `future` with this tenant as the current tenant.
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<AnyTenant, F> {
        CURRENT.scope(self, future)
    }

    /// Runs the closure `f` with this tenant as the current tenant.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    /// The typed tenant, if its id is of type `K`.
    pub fn downcast<K: TenantIdType>(&self) -> Option<&Tenant<K>> {
        K::unerase(self)
    }

    /// The tenant's id, for display (its canonical text form).
    pub fn id_display(&self) -> &dyn fmt::Display {
        each!(self, tenant => tenant.id_ref())
    }

    /// The type of the tenant's id, in PostgreSQL's words.
    pub fn id_type(&self) -> crate::IdSqlType {
        match self {
            Self::Uuid(_) => Uuid::SQL_TYPE,
            Self::BigInt(_) => i64::SQL_TYPE,
            Self::Integer(_) => i32::SQL_TYPE,
            Self::Text(_) => String::SQL_TYPE,
        }
    }

    /// The tenant's slug.
    pub fn slug(&self) -> &TenantSlug {
        each!(self, tenant => tenant.slug())
    }

    /// The tenant's display name.
    pub fn name(&self) -> &str {
        each!(self, tenant => tenant.name())
    }

    /// The tenant's status.
    pub fn status(&self) -> TenantStatus {
        each!(self, tenant => tenant.status())
    }

    /// The tenant's settings.
    pub fn settings(&self) -> &TenantSettings {
        each!(self, tenant => tenant.settings())
    }

    /// Where the tenant's data lives.
    pub fn placement(&self) -> &Placement {
        each!(self, tenant => tenant.placement())
    }

    /// `Ok(())` for an active tenant, [`TenantError::Inactive`] otherwise.
    pub fn ensure_active(&self) -> Result<(), TenantError> {
        each!(self, tenant => tenant.ensure_active())
    }

    /// A cache key in this tenant's namespace: `tenant:{id}:{key}`.
    pub fn cache_key(&self, key: &str) -> String {
        each!(self, tenant => tenant.cache_key(key))
    }
}

impl<K: TenantIdType> From<Tenant<K>> for AnyTenant {
    fn from(tenant: Tenant<K>) -> Self {
        K::erase(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Placement, TenantId};

    #[test]
    fn the_erased_tenant_answers_as_the_typed_one() {
        let typed = Tenant::builder(TenantId::new(42_i64).unwrap(), "acme".parse().unwrap())
            .name("Acme Burgers")
            .status(TenantStatus::Suspended)
            .settings(TenantSettings::default().with_placement(Placement::sealed()))
            .build();
        let any = AnyTenant::from(typed.clone());
        assert_eq!(any.name(), "Acme Burgers");
        assert_eq!(any.status(), TenantStatus::Suspended);
        assert!(any.settings().placement.is_sealed());
        assert!(any.placement().is_sealed());
        assert!(matches!(
            any.ensure_active(),
            Err(TenantError::Inactive { .. })
        ));
        assert_eq!(any.downcast::<i64>(), Some(&typed));
        assert!(any.downcast::<Uuid>().is_none());
        assert_eq!(any.id_display().to_string(), "42");
        let active = AnyTenant::from(typed.to_builder().status(TenantStatus::Active).build());
        assert_eq!(active.ensure_active(), Ok(()));
    }

    /// Each id type comes back out as itself and as no other.
    #[test]
    fn every_id_type_downcasts_to_itself_only() {
        let slug = |s: &str| s.parse::<crate::TenantSlug>().unwrap();
        let text =
            Tenant::builder(TenantId::new("acme-corp".to_owned()).unwrap(), slug("acme")).build();
        let int = Tenant::builder(TenantId::new(7_i32).unwrap(), slug("globex")).build();
        let uuid = Tenant::builder(TenantId::new_v4(), slug("initech")).build();
        let (any_text, any_int, any_uuid) = (
            AnyTenant::from(text.clone()),
            AnyTenant::from(int.clone()),
            AnyTenant::from(uuid.clone()),
        );
        assert_eq!(any_text.downcast::<String>(), Some(&text));
        assert_eq!(any_int.downcast::<i32>(), Some(&int));
        assert_eq!(any_uuid.downcast::<Uuid>(), Some(&uuid));
        assert!(any_text.downcast::<i64>().is_none());
        assert!(any_int.downcast::<String>().is_none());
        assert!(any_uuid.downcast::<String>().is_none());
        assert_eq!(any_text.id_display().to_string(), "acme-corp");
    }
}
