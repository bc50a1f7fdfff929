//! [`CachedTenantStore`]: a TTL cache in front of any tenant store.

use std::sync::Mutex;
use std::time::Duration;

use coarsetime::Instant;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use uuid::Uuid;

use crate::{Lookup, StoreError, TenantIdType, TenantKey, TenantStore};

/// Caches another [`TenantStore`]'s answers for a while, including "no such
/// tenant" (negative caching), so a flood of requests for unknown tenants
/// does not reach the database. Store errors are never cached.
///
/// Changes to a tenant (suspension!) are seen after at most the TTL; call
/// [`invalidate`](CachedTenantStore::invalidate) to see them at once.
///
/// A hit is served on every request, so it is kept cheap:
/// - the entries are spread over up to 32 locks by key, so threads looking
///   up different tenants rarely wait on each other;
/// - keys are hashed with [ahash](https://docs.rs/ahash), seeded at random
///   per cache, so keys chosen by clients cannot be made to collide;
/// - expiry is read from a coarse monotonic clock (a few milliseconds of
///   resolution, read without the cycle counter), so it may come a few
///   milliseconds late.
///
/// ```
/// use std::time::Duration;
/// use tenancy_core::InMemoryTenantStore;
/// use tenancy_core::CachedTenantStore;
///
/// let store = CachedTenantStore::new(InMemoryTenantStore::new())
///     .with_ttl(Duration::from_secs(30))
///     .with_negative_ttl(Duration::from_secs(5));
/// ```
#[derive(Debug)]
pub struct CachedTenantStore<S, K = Uuid> {
    inner: S,
    ttl: Duration,
    negative_ttl: Duration,
    /// The most entries each shard keeps.
    shard_capacity: usize,
    /// A power of two of shards.
    shards: Box<[Mutex<Shard<K>>]>,
    /// The shard count less one: the bits of a hash that pick the shard.
    shard_mask: u64,
    /// Hashes keys, once per lookup: the hash picks the shard (bits 32 and
    /// up, which the table does not use for the slot or its tag) and the
    /// slot in it.
    hasher: ahash::RandomState,
}

/// The most locks the entries are spread over.
const MAX_SHARDS: usize = 32;

/// One lock's share of the cached answers.
type Shard<K> = HashTable<Cached<K>>;

/// A cached answer, with the instant it expires.
#[derive(Debug)]
struct Cached<K> {
    key: TenantKey<K>,
    expires: Instant,
    answer: Lookup<K>,
}

/// The longest TTL kept: longer ones are cut to it, so an expiry instant
/// cannot overflow the clock.
const MAX_TTL: Duration = Duration::from_hours(438_000); // 50 years

/// Now, on the coarse clock. Not `Instant::now`, which also writes a
/// process-wide cached instant: a shared cache line every thread would
/// write on every hit.
fn now() -> Instant {
    Instant::now_without_cache_update()
}

impl<K: TenantIdType, S: TenantStore<K>> CachedTenantStore<S, K> {
    /// Caches `inner`: 60 s for found tenants, 10 s for unknown ones, up to
    /// 100,000 entries.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            ttl: Duration::from_mins(1),
            negative_ttl: Duration::from_secs(10),
            shard_capacity: 0,
            shards: Box::default(),
            shard_mask: 0,
            hasher: ahash::RandomState::new(),
        }
        .with_capacity(100_000)
    }

    /// How long a found tenant is kept (at most 50 years).
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long "no such tenant" is kept (at most 50 years).
    #[must_use]
    pub fn with_negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// The most entries kept (at least 1), in up to 32 shards that hold an
    /// equal share each. When a key's shard is full, its expired entries are
    /// dropped, and if that is not enough, all of its entries.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        // The largest power of two not above the capacity, at most 32.
        let shards = (capacity.min(MAX_SHARDS) + 1).next_power_of_two() / 2;
        self.shard_capacity = capacity / shards;
        self.shard_mask = u64::try_from(shards - 1).unwrap_or_default();
        self.shards = (0..shards).map(|_| Mutex::default()).collect();
        self
    }

    /// Forgets one key (after changing or suspending that tenant).
    pub fn invalidate(&self, key: &TenantKey<K>) {
        let hash = self.hasher.hash_one(key);
        if let Ok(entry) = lock(self.shard(hash)).find_entry(hash, |c| c.key == *key) {
            entry.remove();
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// The shard of the key that hashes to `hash`.
    fn shard(&self, hash: u64) -> &Mutex<Shard<K>> {
        // Masked to below the shard count, a `usize`.
        let index = usize::try_from((hash >> 32) & self.shard_mask).unwrap_or_default();
        &self.shards[index]
    }

    /// The cached answer for `key`, if fresh.
    fn cached(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        let hash = self.hasher.hash_one(key);
        let now = now();
        lock(self.shard(hash))
            .find(hash, |c| c.key == *key)
            .filter(|c| c.expires > now)
            .map(|c| c.answer.clone())
    }

    fn remember(&self, key: TenantKey<K>, tenant: Lookup<K>) {
        let ttl = if matches!(tenant, Lookup::Found(_)) {
            self.ttl
        } else {
            self.negative_ttl
        };
        let hash = self.hasher.hash_one(&key);
        let now = now();
        let mut entries = lock(self.shard(hash));
        if entries.len() >= self.shard_capacity {
            entries.retain(|c| c.expires > now);
            if entries.len() >= self.shard_capacity {
                entries.clear();
            }
        }
        let expires = now + ttl.min(MAX_TTL).into();
        let rehash = |c: &Cached<K>| self.hasher.hash_one(&c.key);
        match entries.entry(hash, |c| c.key == key, rehash) {
            Entry::Occupied(mut entry) => {
                let cached = entry.get_mut();
                cached.expires = expires;
                cached.answer = tenant;
            }
            Entry::Vacant(entry) => {
                entry.insert(Cached {
                    key,
                    expires,
                    answer: tenant,
                });
            }
        }
    }
}

fn lock<K>(shard: &Mutex<Shard<K>>) -> std::sync::MutexGuard<'_, Shard<K>> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl<K: TenantIdType, S: TenantStore<K>> TenantStore<K> for CachedTenantStore<S, K> {
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError> {
        if let Some(answer) = self.cached(key) {
            return Ok(answer);
        }
        let answer = self.inner.lookup(key).await?;
        self.remember(key.clone(), answer.clone());
        Ok(answer)
    }

    fn lookup_now(&self, key: &TenantKey<K>) -> Option<Lookup<K>> {
        self.cached(key).or_else(|| self.inner.lookup_now(key))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{InMemoryTenantStore, Tenant, TenantId, TenantSlug, TenantStoreExt};

    /// Counts lookups that reach the real store.
    #[derive(Default)]
    struct Counting {
        store: InMemoryTenantStore,
        calls: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl TenantStore for Counting {
        async fn lookup(&self, key: &TenantKey) -> Result<Lookup, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(StoreError::new("down"));
            }
            self.store.lookup(key).await
        }
    }

    /// A counting store that knows one tenant, named `slug`.
    fn knowing(slug: &str) -> (Arc<Counting>, Tenant) {
        let counting = Arc::new(Counting::default());
        let tenant = Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build();
        counting.store.insert(tenant.clone());
        (counting, tenant)
    }

    /// Whether the cache answers that `slug` names no tenant.
    async fn names_no_one(cache: &impl TenantStore, slug: &str) -> bool {
        let slug: TenantSlug = slug.parse().unwrap();
        cache.by_slug(&slug).await.unwrap().is_none()
    }

    #[tokio::test]
    async fn caches_hits_and_misses_but_not_errors() {
        let counting = Arc::new(Counting::default());
        counting
            .store
            .insert(Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build());
        let cache =
            CachedTenantStore::new(counting.clone()).with_negative_ttl(Duration::from_millis(50));
        let (acme, ghost): (TenantSlug, TenantSlug) =
            ("acme".parse().unwrap(), "ghost".parse().unwrap());

        for _ in 0..3 {
            assert!(cache.by_slug(&acme).await.unwrap().is_some());
            assert!(cache.by_slug(&ghost).await.unwrap().is_none());
        }
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            2,
            "one real lookup per key"
        );

        tokio::time::sleep(Duration::from_millis(60)).await;
        counting.fail.store(true, Ordering::SeqCst);
        assert!(
            cache.by_slug(&ghost).await.is_err(),
            "expired negative entry, store down"
        );
        assert!(
            cache.by_slug(&ghost).await.is_err(),
            "errors are not cached"
        );
        assert!(
            cache.by_slug(&acme).await.unwrap().is_some(),
            "fresh positive entry still served"
        );

        cache.invalidate(&TenantKey::Slug(acme.clone()));
        assert!(cache.by_slug(&acme).await.is_err());
    }

    /// A full shard drops what it holds: the store is asked again, and the
    /// cache never holds more than its capacity, whatever the keys.
    #[tokio::test]
    async fn a_full_cache_forgets_and_never_holds_more_than_its_capacity() {
        let counting = Arc::new(Counting::default());
        let cache = CachedTenantStore::new(counting.clone()).with_capacity(1);
        let (a, b): (TenantSlug, TenantSlug) = ("a".parse().unwrap(), "b".parse().unwrap());
        for slug in [&a, &b, &a] {
            assert!(cache.by_slug(slug).await.unwrap().is_none());
        }
        assert_eq!(counting.calls.load(Ordering::SeqCst), 3, "b pushed a out");

        for capacity in [1, 5, 31, 32, 33, 100] {
            let cache = CachedTenantStore::new(counting.clone()).with_capacity(capacity);
            for i in 0..500 {
                assert!(names_no_one(&cache, &format!("t{i}")).await);
                let held: usize = cache.shards.iter().map(|s| lock(s).len()).sum();
                assert!(held <= capacity, "{held} entries held, capacity {capacity}");
            }
        }

        // With room, both stay.
        let before = counting.calls.load(Ordering::SeqCst);
        let cache = CachedTenantStore::new(counting.clone());
        for slug in [&a, &b, &a, &b] {
            assert!(cache.by_slug(slug).await.unwrap().is_none());
        }
        assert_eq!(counting.calls.load(Ordering::SeqCst) - before, 2);
    }

    /// A full shard drops its expired entries first and keeps the fresh
    /// ones; a shard with room forgets nothing; `clear` forgets everything.
    #[tokio::test]
    async fn a_full_shard_drops_expired_entries_first() {
        let (counting, fresh) = knowing("fresh");
        // 64 entries in 32 shards: two each.
        let cache = CachedTenantStore::new(counting.clone())
            .with_capacity(64)
            .with_negative_ttl(Duration::from_millis(50));
        let shard_of = |slug: &TenantSlug| {
            let hash = cache.hasher.hash_one(TenantKey::<Uuid>::Slug(slug.clone()));
            std::ptr::from_ref(cache.shard(hash))
        };
        // Two unknown slugs that share the fresh tenant's shard.
        let mut unknown = (0..).map(|i| format!("ghost{i}").parse::<TenantSlug>().unwrap());
        let mut same_shard = || {
            unknown
                .by_ref()
                .find(|slug| shard_of(slug) == shard_of(fresh.slug()))
                .unwrap()
        };
        let (stale, later) = (same_shard(), same_shard());

        assert!(cache.by_slug(&stale).await.unwrap().is_none());
        assert!(cache.by_slug(fresh.slug()).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(80)).await;
        // The shard is full: the stale entry goes, the fresh one stays.
        assert!(cache.by_slug(&later).await.unwrap().is_none());
        let calls = counting.calls.load(Ordering::SeqCst);
        assert!(cache.by_slug(fresh.slug()).await.unwrap().is_some());
        assert!(cache.by_slug(&later).await.unwrap().is_none());
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            calls,
            "both still cached"
        );

        // The default capacity holds a thousand tenants without forgetting one.
        let cache = CachedTenantStore::new(counting.clone());
        let before = counting.calls.load(Ordering::SeqCst);
        for _ in 0..2 {
            for i in 0..1_000 {
                assert!(names_no_one(&cache, &format!("t{i}")).await);
            }
        }
        assert_eq!(counting.calls.load(Ordering::SeqCst) - before, 1_000);

        cache.clear();
        assert!(names_no_one(&cache, "t0").await);
        assert_eq!(
            counting.calls.load(Ordering::SeqCst) - before,
            1_001,
            "cleared"
        );
    }

    /// Keys spread over all the shards, so threads that look up different
    /// tenants take different locks.
    #[test]
    fn keys_spread_over_the_shards() {
        let cache = CachedTenantStore::new(InMemoryTenantStore::new());
        assert_eq!(cache.shards.len(), MAX_SHARDS);
        let used: std::collections::HashSet<_> = (0..1_000)
            .map(|i| {
                let key = TenantKey::<Uuid>::Slug(format!("t{i}").parse().unwrap());
                std::ptr::from_ref(cache.shard(cache.hasher.hash_one(&key)))
            })
            .collect();
        assert_eq!(
            used.len(),
            MAX_SHARDS,
            "every shard holds some of 1,000 keys"
        );
    }

    /// A TTL too long for the clock is cut, not an overflow (a panic, or a
    /// wrapped expiry that would drop every entry at once).
    #[tokio::test]
    async fn an_endless_ttl_keeps_entries_without_overflowing() {
        let (counting, acme) = knowing("acme");
        let cache = CachedTenantStore::new(counting.clone())
            .with_ttl(Duration::MAX)
            .with_negative_ttl(Duration::MAX);
        for _ in 0..3 {
            assert!(cache.by_slug(acme.slug()).await.unwrap().is_some());
            assert!(names_no_one(&cache, "ghost").await);
        }
        assert_eq!(counting.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn answers_now_on_a_hit_and_defers_a_miss_to_the_inner_store() {
        let (counting, acme) = knowing("acme");
        let cache = CachedTenantStore::new(counting.clone());
        let key = TenantKey::Slug(acme.slug().clone());

        // `Counting` has no `lookup_now`: a miss must go the async way.
        assert!(cache.lookup_now(&key).is_none());
        assert!(cache.by_slug(acme.slug()).await.unwrap().is_some());
        let hit = cache.lookup_now(&key).expect("a hit answers now");
        assert_eq!(hit.into_tenant().map(|t| t.id()), Some(acme.id()));

        let ghost = TenantKey::Slug("ghost".parse().unwrap());
        assert!(
            cache
                .by_slug(&"ghost".parse().unwrap())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            cache.lookup_now(&ghost),
            Some(Lookup::NotFound),
            "negative entries answer now too"
        );
        assert_eq!(counting.calls.load(Ordering::SeqCst), 2);
    }
}
