//! [`BeginTenantTx`]: what opens tenant transactions, whichever pool it is.

use std::future::Future;

use tenancy_core::rls::TxOptions;
use tenancy_core::{Tenant, TenantContextOf, TenantIdType};
use uuid::Uuid;

use crate::{Result, TenantPool, TenantTx};

mod sealed {
    pub trait Sealed {}
}

/// A pool that opens [`TenantTx`]s: [`TenantPool`] (one database) or
/// [`RoutedPool`](crate::routing::RoutedPool) (tenants spread over several).
/// Code that takes `impl BeginTenantTx` (the
/// [`lifecycle`](crate::lifecycle), your own services) works with either.
/// Sealed: the SDK's pools are the only ones, so every implementation binds
/// the tenant as the SDK does.
///
/// ```
/// use tenancy_sqlx::{BeginTenantTx, Result, TenantPool};
///
/// async fn count_orders(pool: &impl BeginTenantTx, tenant: &tenancy_core::Tenant) -> Result<i64> {
///     let mut tx = pool.begin(tenant).await?;
///     let n = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut tx).await?;
///     tx.commit().await?;
///     Ok(n)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// assert_eq!(count_orders(&pool, &acme).await?, 0);
/// # Ok(()) }
/// ```
pub trait BeginTenantTx<K: TenantIdType = Uuid>: sealed::Sealed + Send + Sync {
    /// Opens a transaction bound to `tenant`.
    fn begin(&self, tenant: &Tenant<K>) -> impl Future<Output = Result<TenantTx<K>>> + Send;

    /// [`begin`](Self::begin) with transaction options.
    fn begin_with(
        &self,
        tenant: &Tenant<K>,
        options: &TxOptions,
    ) -> impl Future<Output = Result<TenantTx<K>>> + Send;

    /// [`begin`](Self::begin) for the tenant of [`TenantContext`](tenancy_core::TenantContextOf); fails
    /// closed outside a tenant scope.
    fn begin_current(&self) -> impl Future<Output = Result<TenantTx<K>>> + Send {
        async move {
            let tenant = TenantContextOf::<K>::current()?;
            self.begin(&tenant).await
        }
    }
}

impl<K> sealed::Sealed for TenantPool<K> {}

impl<K: TenantIdType> BeginTenantTx<K> for TenantPool<K> {
    fn begin(&self, tenant: &Tenant<K>) -> impl Future<Output = Result<TenantTx<K>>> + Send {
        TenantPool::begin(self, tenant)
    }

    fn begin_with(
        &self,
        tenant: &Tenant<K>,
        options: &TxOptions,
    ) -> impl Future<Output = Result<TenantTx<K>>> + Send {
        TenantPool::begin_with(self, tenant, options)
    }
}

#[cfg(feature = "routing")]
impl<K> sealed::Sealed for crate::routing::RoutedPool<K> {}

#[cfg(feature = "routing")]
impl<K: TenantIdType> BeginTenantTx<K> for crate::routing::RoutedPool<K> {
    fn begin(&self, tenant: &Tenant<K>) -> impl Future<Output = Result<TenantTx<K>>> + Send {
        crate::routing::RoutedPool::begin(self, tenant)
    }

    fn begin_with(
        &self,
        tenant: &Tenant<K>,
        options: &TxOptions,
    ) -> impl Future<Output = Result<TenantTx<K>>> + Send {
        crate::routing::RoutedPool::begin_with(self, tenant, options)
    }
}
