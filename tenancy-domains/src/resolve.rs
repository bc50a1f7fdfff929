//! [`VerifiedDomains`]: a tenant store whose custom domains are the
//! verified ones.

use tenancy_core::{Lookup, StoreError, TenantKey, TenantStore};
use tenancy_sqlx::PgTenantId;
use uuid::Uuid;

use crate::DomainStore;

/// Wraps a tenant store so that a custom domain resolves only when it is
/// **verified** in the [`DomainStore`]: a pending, failed, expired or
/// unknown domain is "no such tenant" (tenancy-tower answers 404), never
/// another tenant. Slugs and ids go to the inner store unchanged; a
/// domain's tenant is then looked up there by id, so a suspended tenant
/// stays suspended.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # let pool = sqlx::PgPool::connect(db.owner_url()).await?;
/// use tenancy_core::{InMemoryTenantStore, Tenant, TenantId, TenantStoreExt};
/// use tenancy_domains::{DomainStore, VerifiedDomains};
///
/// let domains = DomainStore::new(pool);
/// sqlx::raw_sql(sqlx::AssertSqlSafe(domains.create_table_sql())).execute(domains.pool()).await?;
/// let tenants = InMemoryTenantStore::new();
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// tenants.insert(acme.clone());
/// // Even a domain the inner store maps is ignored until verified here.
/// tenants.add_domain("orders.acme-corp.com", acme.id());
/// domains.add(&acme.id(), &"orders.acme-corp.com".parse()?).await?;
///
/// let store = VerifiedDomains::new(domains, tenants);
/// assert!(store.by_domain("orders.acme-corp.com").await?.is_none());
/// assert!(store.by_slug(&"acme".parse()?).await?.is_some());
/// // Hand `store` to `TenantLayer::builder(store)`.
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedDomains<S, K = Uuid> {
    domains: DomainStore<K>,
    inner: S,
}

impl<S, K> VerifiedDomains<S, K> {
    /// Resolves domains through `domains`, everything else through
    /// `inner`.
    pub fn new(domains: DomainStore<K>, inner: S) -> Self {
        Self { domains, inner }
    }
}

#[async_trait::async_trait]
impl<K: PgTenantId, S: TenantStore<K>> TenantStore<K> for VerifiedDomains<S, K> {
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError> {
        match key {
            TenantKey::Domain(domain) => {
                match self
                    .domains
                    .verified_tenant(domain)
                    .await
                    .map_err(StoreError::new)?
                {
                    Some(id) => self.inner.lookup(&TenantKey::Id(id)).await,
                    None => Ok(Lookup::NotFound),
                }
            }
            other => self.inner.lookup(other).await,
        }
    }

    fn lookup_now(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        match key {
            TenantKey::Domain(_) => None,
            other => self.inner.lookup_now(other),
        }
    }
}
