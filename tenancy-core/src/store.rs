//! [`TenantStore`]: where tenants are looked up.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::{Tenant, TenantId, TenantIdType, TenantKey, TenantSlug};

/// A tenant store failed (database down, timeout, ...). Not "tenant unknown":
/// that is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[error("the tenant store is unavailable: {source}")]
pub struct StoreError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

/// What a store answered for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<K = Uuid> {
    /// The tenant the key names.
    Found(Tenant<K>),
    /// No tenant has this key.
    NotFound,
}

impl<K> Lookup<K> {
    /// The tenant, if one was found.
    pub fn into_tenant(self) -> Option<Tenant<K>> {
        match self {
            Self::Found(tenant) => Some(tenant),
            Self::NotFound => None,
        }
    }
}

impl<K> From<Option<Tenant<K>>> for Lookup<K> {
    fn from(tenant: Option<Tenant<K>>) -> Self {
        tenant.map_or(Self::NotFound, Self::Found)
    }
}

/// Looks tenants up by a [`TenantKey`]: a slug, an id or a custom domain.
///
/// `Ok(Lookup::NotFound)` means "no such tenant"; `Err` means the store
/// could not answer. Implementations: [`InMemoryTenantStore`] and
/// [`CachedTenantStore`](crate::CachedTenantStore) here, a PostgreSQL-backed
/// store in `tenancy-sqlx`. [`TenantStoreExt`] adds `by_slug`, `by_id` and
/// `by_domain`.
///
/// `K` is the application's tenant id type ([`Uuid`] unless it chose
/// another [`TenantIdType`]); a store serves tenants of one id type.
#[async_trait::async_trait]
pub trait TenantStore<K: TenantIdType = Uuid>: Send + Sync + 'static {
    /// The tenant `key` names. A domain is lowercase, without port or
    /// trailing dot, such as `orders.acme-corp.com`.
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError>;

    /// Answers from memory, without I/O, when it can: `Some(answer)` is
    /// what [`lookup`](Self::lookup) would answer, `None` means "ask
    /// `lookup`".
    ///
    /// Stores that hold tenants in memory (the [`InMemoryTenantStore`], a
    /// cache on a hit) implement it so that resolving the tenant of every
    /// request needs no boxed future. The default answers `None`, which is
    /// always correct.
    fn lookup_now(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        let _ = key;
        None
    }
}

#[async_trait::async_trait]
impl<K: TenantIdType, S: TenantStore<K> + ?Sized> TenantStore<K> for Arc<S> {
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError> {
        (**self).lookup(key).await
    }

    fn lookup_now(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        (**self).lookup_now(key)
    }
}

/// Lookups by each kind of key, over [`TenantStore::lookup`]; for every
/// store.
#[async_trait::async_trait]
pub trait TenantStoreExt<K: TenantIdType = Uuid>: TenantStore<K> {
    /// The tenant with this slug.
    async fn by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant<K>>, StoreError> {
        Ok(self
            .lookup(&TenantKey::Slug(slug.clone()))
            .await?
            .into_tenant())
    }

    /// The tenant with this id.
    async fn by_id(&self, id: TenantId<K>) -> Result<Option<Tenant<K>>, StoreError> {
        Ok(self.lookup(&TenantKey::Id(id)).await?.into_tenant())
    }

    /// The tenant that owns this custom domain (lowercase, no port, no
    /// trailing dot).
    async fn by_domain(&self, domain: &str) -> Result<Option<Tenant<K>>, StoreError> {
        Ok(self
            .lookup(&TenantKey::Domain(domain.into()))
            .await?
            .into_tenant())
    }
}

impl<K: TenantIdType, S: TenantStore<K> + ?Sized> TenantStoreExt<K> for S {}

/// A [`TenantStore`] in memory: for tests, examples and small fixed tenant sets.
///
/// ```
/// use tenancy_core::{InMemoryTenantStore, Tenant, TenantId, TenantStoreExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryTenantStore::new();
/// let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).build();
/// store.insert(acme.clone());
/// store.add_domain("orders.acme-corp.com", acme.id());
/// assert_eq!(store.by_slug(&"acme".parse()?).await?.map(|t| t.id()), Some(acme.id()));
/// assert_eq!(store.by_domain("orders.acme-corp.com").await?.map(|t| t.id()), Some(acme.id()));
/// # Ok(())
/// # }
/// ```
///
/// For tenant ids of another type, start from `Default`:
/// `InMemoryTenantStore::<i64>::default()`.
#[derive(Debug, Clone)]
pub struct InMemoryTenantStore<K = Uuid> {
    inner: Arc<RwLock<Maps<K>>>,
}

impl<K> Default for InMemoryTenantStore<K> {
    fn default() -> Self {
        Self {
            inner: Arc::new(RwLock::new(Maps {
                tenants: HashMap::new(),
                slugs: HashMap::new(),
                domains: HashMap::new(),
            })),
        }
    }
}

#[derive(Debug)]
struct Maps<K> {
    tenants: HashMap<TenantId<K>, Tenant<K>>,
    slugs: HashMap<TenantSlug, TenantId<K>>,
    domains: HashMap<String, TenantId<K>>,
}

impl InMemoryTenantStore {
    /// An empty store of tenants with UUID ids.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: TenantIdType> InMemoryTenantStore<K> {
    /// Adds or replaces a tenant (by id).
    pub fn insert(&self, tenant: Tenant<K>) {
        let mut maps = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = maps.tenants.get(tenant.id_ref()).cloned() {
            maps.slugs.remove(old.slug());
        }
        maps.slugs.insert(tenant.slug().clone(), tenant.id());
        maps.tenants.insert(tenant.id(), tenant);
    }

    /// Maps a custom domain to a tenant. The domain is stored lowercase.
    pub fn add_domain(&self, domain: &str, id: TenantId<K>) {
        let mut maps = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        maps.domains.insert(domain.to_ascii_lowercase(), id);
    }

    /// Removes a tenant and its domains.
    pub fn remove(&self, id: &TenantId<K>) {
        let mut maps = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = maps.tenants.remove(id) {
            maps.slugs.remove(old.slug());
        }
        maps.domains.retain(|_, v| v != id);
    }

    fn answer(&self, key: &TenantKey<K>) -> Lookup<K> {
        let maps = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = match key {
            TenantKey::Slug(slug) => maps.slugs.get(slug),
            TenantKey::Id(id) => Some(id),
            TenantKey::Domain(domain) => maps.domains.get(&**domain),
        };
        id.and_then(|id| maps.tenants.get(id).cloned()).into()
    }
}

#[async_trait::async_trait]
impl<K: TenantIdType> TenantStore<K> for InMemoryTenantStore<K> {
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError> {
        Ok(self.answer(key))
    }

    fn lookup_now(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        Some(self.answer(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replacing_a_tenant_drops_its_old_slug() {
        let store = InMemoryTenantStore::new();
        let id = TenantId::new_v4();
        store.insert(Tenant::builder(id, "old".parse().unwrap()).build());
        store.insert(Tenant::builder(id, "new".parse().unwrap()).build());
        assert!(
            store
                .by_slug(&"old".parse().unwrap())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            store
                .by_slug(&"new".parse().unwrap())
                .await
                .unwrap()
                .unwrap()
                .id(),
            id
        );
        store.remove(&id);
        assert!(store.by_id(id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn answers_now_what_it_answers_later() {
        let store = InMemoryTenantStore::new();
        let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
        store.insert(acme.clone());
        store.add_domain("Orders.Acme-Corp.com", acme.id());
        let keys = [
            TenantKey::Slug("acme".parse().unwrap()),
            TenantKey::Slug("ghost".parse().unwrap()),
            TenantKey::Id(acme.id()),
            TenantKey::Id(TenantId::new_v4()),
            TenantKey::Domain("orders.acme-corp.com".into()),
            TenantKey::Domain("ghost.example".into()),
        ];
        for key in keys {
            let later = store.lookup(&key).await.unwrap();
            assert_eq!(store.lookup_now(&key), Some(later), "{key}");
        }
        let shared: Arc<dyn TenantStore> = Arc::new(store);
        assert!(shared.lookup_now(&TenantKey::Id(acme.id())).is_some());
    }
}
