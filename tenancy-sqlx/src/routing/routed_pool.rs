//! [`RoutedPool`]: one lazily created pool per target, a cap on open pools
//! and a cap on connections per tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::rls::{SealedRole, TenantBinding, TxOptions};
use tenancy_core::uuid::Uuid;
use tenancy_core::{TargetName, Tenant, TenantContextOf, TenantId, TenantIdType};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::TenantRouter;
use crate::{Error, Result, TenantPool, TenantTx};

type Resolve = dyn Fn(&TargetName) -> Option<PgConnectOptions> + Send + Sync;

/// A [`TenantPool`] over several targets (shards, servers, databases per
/// tenant): a [`TenantRouter`] picks the target, and each target gets its
/// own pool, created on first use.
///
/// - **Open pools are capped** ([`max_open_pools`](RoutedPoolBuilder::max_open_pools)):
///   with one database per tenant there may be thousands of targets; the
///   least recently used pool with no connection in use is closed to make
///   room.
/// - **Connections per tenant are capped**
///   ([`max_connections_per_tenant`](RoutedPoolBuilder::max_connections_per_tenant)):
///   a noisy tenant waits for its own transactions to finish instead of
///   taking its neighbours' connections on a shared target.
/// - **A failing target fails only its tenants**, with
///   [`Error::Target`] naming it.
/// - **Sealed tenants** (feature `sealed`, [`sealed_logins`](RoutedPoolBuilder::sealed_logins))
///   get a small pool of their own that logs in as their own role, on
///   their target; the caps above count those pools too.
///
/// ```
/// use tenancy_core::TargetName;
/// use tenancy_sqlx::routing::{HashRouter, RoutedPool};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (db0, db1) = (tenancy_testing::test_database(), tenancy_testing::test_database());
/// # let (shard_0_url, shard_1_url) = (db0.app_url(), db1.app_url()); // the app role on each shard
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let shards = [TargetName::new("shard-0")?, TargetName::new("shard-1")?];
/// let pool = RoutedPool::builder(HashRouter::new(shards.clone()))
///     .target(shards[0].clone(), shard_0_url.parse()?)
///     .target(shards[1].clone(), shard_1_url.parse()?)
///     .max_connections_per_tenant(4)
///     .build();
/// let mut tx = pool.begin(&acme).await?; // on acme's shard, RLS set as usual
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct RoutedPool<K = Uuid> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for RoutedPool<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<K> {
    router: Box<dyn TenantRouter<K>>,
    targets: HashMap<TargetName, PgConnectOptions>,
    resolve: Option<Box<Resolve>>,
    pool_options: PgPoolOptions,
    binding: TenantBinding,
    named_statements: bool,
    meter: Option<crate::TxMeter<K>>,
    max_open_pools: usize,
    per_tenant: Option<(u32, Duration)>,
    #[cfg(feature = "sealed")]
    sealed: Option<crate::sealed::SealedLogins>,
    sealed_pool_options: PgPoolOptions,
    open: Mutex<HashMap<PoolKey, OpenPool<K>>>,
    tenants: Mutex<HashMap<TenantId<K>, Arc<Semaphore>>>,
}

/// A pool per target, and per target and sealed tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    target: TargetName,
    sealed: Option<SealedRole>,
}

struct OpenPool<K> {
    pool: TenantPool<K>,
    raw: sqlx::PgPool,
    last_used: Instant,
    /// Which sealed-login secret the pool logs in with (0: the current).
    key: usize,
}

/// Builds a [`RoutedPool`]; start with [`RoutedPool::builder`].
#[must_use]
pub struct RoutedPoolBuilder<K = Uuid> {
    inner: Inner<K>,
}

impl RoutedPool<Uuid> {
    /// Starts a routed pool that asks `router` for each tenant's target.
    pub fn builder(router: impl TenantRouter) -> RoutedPoolBuilder {
        RoutedPoolBuilder::new(router)
    }
}

impl<K: TenantIdType> RoutedPoolBuilder<K> {
    /// A builder of a pool of tenants with ids of type `K` that routes
    /// them with `router`: `RoutedPoolBuilder::<i64>::new(router)`. See
    /// [`RoutedPool::builder`].
    pub fn new(router: impl TenantRouter<K>) -> Self {
        RoutedPoolBuilder {
            inner: Inner {
                router: Box::new(router),
                targets: HashMap::new(),
                resolve: None,
                pool_options: PgPoolOptions::new().max_connections(10),
                binding: TenantBinding::default(),
                named_statements: true,
                meter: None,
                max_open_pools: 64,
                per_tenant: None,
                #[cfg(feature = "sealed")]
                sealed: None,
                sealed_pool_options: PgPoolOptions::new()
                    .max_connections(2)
                    .min_connections(0)
                    .idle_timeout(Duration::from_mins(1)),
                open: Mutex::new(HashMap::new()),
                tenants: Mutex::new(HashMap::new()),
            },
        }
    }
}

impl<K: TenantIdType> RoutedPool<K> {
    /// Opens a transaction for `tenant` on its target, as
    /// [`TenantPool::begin`] does. Waits while the tenant already holds its
    /// maximum of connections, up to the pool's acquire timeout.
    pub async fn begin(&self, tenant: &Tenant<K>) -> Result<TenantTx<K>> {
        self.begin_on_target(tenant, None).await
    }

    /// [`begin`](Self::begin) with transaction options, as
    /// [`TenantPool::begin_with`].
    pub async fn begin_with(&self, tenant: &Tenant<K>, options: &TxOptions) -> Result<TenantTx<K>> {
        self.begin_on_target(tenant, Some(options)).await
    }

    async fn begin_on_target(
        &self,
        tenant: &Tenant<K>,
        options: Option<&TxOptions>,
    ) -> Result<TenantTx<K>> {
        let target = self.inner.router.route(tenant).ok_or(Error::NoTarget {
            tenant: tenant.id_ref().to_string(),
        })?;
        let permit = self.tenant_permit(tenant).await?;
        let key = PoolKey {
            sealed: tenant
                .placement()
                .is_sealed()
                .then(|| SealedRole::for_tenant(tenant.id_ref())),
            target: target.clone(),
        };
        let mut secret = None;
        let mut closed_retries = 0;
        let begun = loop {
            let (pool, in_use) = self.pool_for(&key, secret, tenant)?;
            let begun = match options {
                Some(options) => pool.begin_with(tenant, options).await,
                None => pool.begin(tenant).await,
            };
            // A sealed role not rotated yet: try the next older secret.
            // A pool evicted between our lookup and the connection: take
            // the fresh one.
            match begun {
                Err(Error::Database(sqlx::Error::PoolClosed)) if closed_retries < 3 => {
                    closed_retries += 1;
                }
                Err(Error::Database(ref e)) if key.sealed.is_some() && is_bad_password(e) => {
                    if in_use + 1 >= self.sealed_key_count() {
                        break begun;
                    }
                    secret = Some(in_use + 1);
                }
                other => break other,
            }
        };
        let tx = begun.map_err(|source| match source {
            Error::Database(_) => Error::Target {
                target: target.clone(),
                source: Box::new(source),
            },
            other => other,
        })?;
        Ok(tx.holding(permit))
    }

    /// [`begin`](Self::begin) for the tenant of [`TenantContext`](tenancy_core::TenantContextOf), failing
    /// closed outside a tenant scope.
    pub async fn begin_current(&self) -> Result<TenantTx<K>> {
        let tenant = TenantContextOf::<K>::current()?;
        self.begin(&tenant).await
    }

    /// The targets that have an open pool now.
    pub fn open_targets(&self) -> Vec<TargetName> {
        let open = self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<_> = open.keys().map(|key| key.target.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The number of open pools that log in as a sealed tenant.
    pub fn open_sealed_pools(&self) -> usize {
        let open = self
            .inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.keys().filter(|key| key.sealed.is_some()).count()
    }

    #[cfg_attr(not(feature = "sealed"), allow(clippy::unused_self))]
    fn sealed_key_count(&self) -> usize {
        #[cfg(feature = "sealed")]
        if let Some(logins) = &self.inner.sealed {
            return logins.keys().len();
        }
        0
    }

    /// Closes every open pool.
    pub async fn close(&self) {
        let pools: Vec<_> = {
            let mut open = self
                .inner
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            open.drain().map(|(_, p)| p.raw).collect()
        };
        for pool in pools {
            pool.close().await;
        }
    }

    async fn tenant_permit(&self, tenant: &Tenant<K>) -> Result<Option<OwnedSemaphorePermit>> {
        let Some((max, wait)) = self.inner.per_tenant else {
            return Ok(None);
        };
        let semaphore = {
            let mut tenants = self
                .inner
                .tenants
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if tenants.len() >= 10_000 {
                // Forget tenants with nothing in flight.
                tenants.retain(|_, s| s.available_permits() < max as usize);
            }
            tenants
                .entry(tenant.id())
                .or_insert_with(|| Arc::new(Semaphore::new(max as usize)))
                .clone()
        };
        match tokio::time::timeout(wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => Err(Error::TenantBusy {
                tenant: tenant.id_ref().to_string(),
                max,
            }),
        }
    }

    /// The pool of `key`, opened when missing; with `secret`, (re)opened
    /// with that sealed-login secret. Returns the pool and its secret.
    fn pool_for(
        &self,
        key: &PoolKey,
        secret: Option<usize>,
        tenant: &Tenant<K>,
    ) -> Result<(TenantPool<K>, usize)> {
        let inner = &self.inner;
        let mut open = inner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = open.get_mut(key)
            && secret.is_none_or(|secret| secret == entry.key)
        {
            entry.last_used = Instant::now();
            return Ok((entry.pool.clone(), entry.key));
        }
        let target = &key.target;
        let options = inner
            .targets
            .get(target)
            .cloned()
            .or_else(|| inner.resolve.as_ref().and_then(|resolve| resolve(target)))
            .ok_or_else(|| Error::UnknownTarget(target.clone()))?;
        let secret = secret.unwrap_or(0);
        let (options, pool_options, binding) = match &key.sealed {
            None => (options, &inner.pool_options, inner.binding.clone()),
            Some(role) => (
                self.sealed_options(&options, role, secret, tenant)?,
                &inner.sealed_pool_options,
                inner.binding.clone().sealed_login(),
            ),
        };
        if let Some(replaced) = open.remove(key) {
            tokio::spawn(async move { replaced.raw.close().await });
        }
        if open.len() >= inner.max_open_pools {
            let idle = open
                .iter()
                .filter(|(_, p)| p.raw.size() as usize == p.raw.num_idle())
                .min_by_key(|(_, p)| p.last_used)
                .map(|(name, _)| name.clone());
            let Some(evicted) = idle.and_then(|name| open.remove(&name)) else {
                return Err(Error::TooManyPools {
                    max: inner.max_open_pools,
                });
            };
            tokio::spawn(async move { evicted.raw.close().await });
        }
        let raw = pool_options.clone().connect_lazy_with(options);
        let mut pool = TenantPool::from(raw.clone()).with_binding(binding);
        if !inner.named_statements {
            pool = pool.unnamed_statements();
        }
        if let Some(meter) = &inner.meter {
            pool = pool.metered(meter.clone());
        }
        open.insert(
            key.clone(),
            OpenPool {
                pool: pool.clone(),
                raw,
                last_used: Instant::now(),
                key: secret,
            },
        );
        Ok((pool, secret))
    }

    /// `options` logging in as the sealed tenant's `role`.
    #[cfg_attr(not(feature = "sealed"), allow(unused_variables, clippy::unused_self))]
    fn sealed_options(
        &self,
        options: &PgConnectOptions,
        role: &SealedRole,
        secret: usize,
        tenant: &Tenant<K>,
    ) -> Result<PgConnectOptions> {
        #[cfg(feature = "sealed")]
        if let Some(options) = self
            .inner
            .sealed
            .as_ref()
            .and_then(|logins| logins.connect_options(options, role, secret))
        {
            return Ok(options);
        }
        Err(Error::NoSealedLogins {
            tenant: tenant.id_ref().to_string(),
        })
    }
}

/// PostgreSQL's `invalid_password` (28P01): the role exists but the
/// password is not the one it has.
fn is_bad_password(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(sqlx::error::DatabaseError::code)
        .is_some_and(|code| code == "28P01")
}

impl<K: TenantIdType> RoutedPoolBuilder<K> {
    /// Connection options of a target.
    pub fn target(mut self, name: TargetName, options: PgConnectOptions) -> Self {
        self.inner.targets.insert(name, options);
        self
    }

    /// Connection options for targets not given with [`target`](Self::target),
    /// computed from the name: for a database per tenant, e.g.
    /// `move |name| Some(base.clone().database(name.as_str()))`.
    pub fn resolve_targets(
        mut self,
        resolve: impl Fn(&TargetName) -> Option<PgConnectOptions> + Send + Sync + 'static,
    ) -> Self {
        self.inner.resolve = Some(Box::new(resolve));
        self
    }

    /// Options of every target's pool (size, timeouts). Default: 10
    /// connections.
    pub fn pool_options(mut self, options: PgPoolOptions) -> Self {
        self.inner.pool_options = options;
        self
    }

    /// How tenants are bound in each transaction (setting, schemas).
    pub fn binding(mut self, binding: TenantBinding) -> Self {
        self.inner.binding = binding;
        self
    }

    /// Unnamed statements on every target, for transaction poolers that
    /// cannot keep named ones; see [`TenantPool::unnamed_statements`].
    pub fn unnamed_statements(mut self) -> Self {
        self.inner.named_statements = false;
        self
    }

    /// Reports every transaction on every target to `meter`; see
    /// [`TenantPool::metered`].
    pub fn metered(mut self, meter: crate::TxMeter<K>) -> Self {
        self.inner.meter = Some(meter);
        self
    }

    /// At most `max` pools open at once (default 64); the least recently
    /// used idle one is closed to open another.
    pub fn max_open_pools(mut self, max: usize) -> Self {
        self.inner.max_open_pools = max.max(1);
        self
    }

    /// At most `max` transactions of one tenant at once, across targets; a
    /// tenant over it waits up to 5 seconds, then gets
    /// [`Error::TenantBusy`].
    pub fn max_connections_per_tenant(self, max: u32) -> Self {
        self.max_connections_per_tenant_waiting(max, Duration::from_secs(5))
    }

    /// [`max_connections_per_tenant`](Self::max_connections_per_tenant)
    /// with another wait.
    pub fn max_connections_per_tenant_waiting(mut self, max: u32, wait: Duration) -> Self {
        self.inner.per_tenant = Some((max.max(1), wait));
        self
    }

    /// Sealed tenants (their [`Placement`](tenancy_core::Placement) says
    /// [sealed](tenancy_core::Placement::sealed)) get a pool of their own on
    /// their target that logs in as their
    /// [`SealedRole`] with the password `logins` derives; the pool's
    /// binding refuses any other tenant. Without this, a sealed tenant's
    /// `begin` fails with [`Error::NoSealedLogins`].
    #[cfg(feature = "sealed")]
    pub fn sealed_logins(mut self, logins: crate::sealed::SealedLogins) -> Self {
        self.inner.sealed = Some(logins);
        self
    }

    /// Options of each sealed tenant's pool. Default: at most 2
    /// connections, none kept open, idle ones closed after 60 seconds, so
    /// thousands of sealed tenants of which a few are active hold a few
    /// connections each.
    pub fn sealed_pool_options(mut self, options: PgPoolOptions) -> Self {
        self.inner.sealed_pool_options = options;
        self
    }

    /// The pool.
    pub fn build(self) -> RoutedPool<K> {
        RoutedPool {
            inner: Arc::new(self.inner),
        }
    }
}

impl<K: TenantIdType> std::fmt::Debug for RoutedPool<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedPool")
            .field("targets", &self.inner.targets.keys().collect::<Vec<_>>())
            .field("open", &self.open_targets())
            .field("max_open_pools", &self.inner.max_open_pools)
            .field("per_tenant", &self.inner.per_tenant)
            .finish_non_exhaustive()
    }
}

impl<K> std::fmt::Debug for RoutedPoolBuilder<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedPoolBuilder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::PlacementRouter;

    fn tenant() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "t".parse().expect("a slug")).build()
    }

    /// The per-tenant caps forget idle tenants once 10,000 are tracked, but
    /// never a tenant with a transaction in flight: its cap still holds.
    #[tokio::test]
    async fn forgetting_idle_tenants_keeps_a_busy_tenants_cap() {
        let pool = RoutedPoolBuilder::<Uuid>::new(PlacementRouter::new())
            .max_connections_per_tenant_waiting(1, Duration::from_millis(10))
            .build();
        let busy = tenant();
        let held = pool.tenant_permit(&busy).await.expect("a permit");
        assert!(held.is_some());
        for _ in 0..10_001 {
            drop(pool.tenant_permit(&tenant()).await.expect("a permit"));
        }
        let tracked = pool
            .inner
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(tracked < 100, "{tracked} tenants still tracked");
        assert!(matches!(
            pool.tenant_permit(&busy).await,
            Err(Error::TenantBusy { max: 1, .. })
        ));
        drop(held);
        assert!(pool.tenant_permit(&busy).await.expect("a permit").is_some());
    }
}
