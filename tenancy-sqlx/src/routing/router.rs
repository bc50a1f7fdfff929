//! [`TenantRouter`] and the three ways to route: the tenant's placement, a
//! static map, a hash over shards.

use std::collections::HashMap;
use std::sync::RwLock;

use tenancy_core::uuid::Uuid;
use tenancy_core::{TargetName, Tenant, TenantId, TenantIdType};

/// Decides which connection target (shard, server, tenant database) serves
/// a tenant. `None` means "no target known": the routed pool fails closed
/// with [`Error::NoTarget`](crate::Error::NoTarget), it never picks one.
pub trait TenantRouter<K: TenantIdType = Uuid>: Send + Sync + 'static {
    /// The target for `tenant`.
    fn route(&self, tenant: &Tenant<K>) -> Option<TargetName>;
}

/// A shared router (keep a handle to reassign tenants while the pool runs).
impl<K: TenantIdType, R: TenantRouter<K> + ?Sized> TenantRouter<K> for std::sync::Arc<R> {
    fn route(&self, tenant: &Tenant<K>) -> Option<TargetName> {
        (**self).route(tenant)
    }
}

/// Routes by the tenant's [`Placement`](tenancy_core::Placement) target,
/// as the tenant store returns it: the directory is the tenant store, and
/// moving a tenant is changing its entry there.
#[derive(Debug, Clone, Default)]
pub struct PlacementRouter {
    default: Option<TargetName>,
}

impl PlacementRouter {
    /// Tenants without a target in their placement are not served.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tenants without a target in their placement go to `target`.
    #[must_use]
    pub fn with_default(mut self, target: TargetName) -> Self {
        self.default = Some(target);
        self
    }
}

impl<K: TenantIdType> TenantRouter<K> for PlacementRouter {
    fn route(&self, tenant: &Tenant<K>) -> Option<TargetName> {
        tenant
            .placement()
            .target()
            .or(self.default.as_ref())
            .cloned()
    }
}

/// A shard map kept in memory: tenant id → target. Reassign a tenant with
/// [`assign`](Self::assign) after copying its data (copy first, then flip).
#[derive(Debug)]
pub struct StaticRouter<K = Uuid> {
    map: RwLock<HashMap<TenantId<K>, TargetName>>,
}

impl<K> Default for StaticRouter<K> {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: TenantIdType> StaticRouter<K> {
    /// A map from `entries`.
    pub fn new(entries: impl IntoIterator<Item = (TenantId<K>, TargetName)>) -> Self {
        Self {
            map: RwLock::new(entries.into_iter().collect()),
        }
    }

    /// Routes `tenant` to `target` from now on; returns the previous target.
    pub fn assign(&self, tenant: TenantId<K>, target: TargetName) -> Option<TargetName> {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(tenant, target)
    }
}

impl<K: TenantIdType> TenantRouter<K> for StaticRouter<K> {
    fn route(&self, tenant: &Tenant<K>) -> Option<TargetName> {
        let map = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(tenant.id_ref()).cloned()
    }
}

/// Spreads tenants over shards by a hash of the tenant id (jump consistent
/// hashing): stable across restarts and machines, and adding an `n+1`th
/// shard moves only about `1/(n+1)` of the tenants.
#[derive(Debug, Clone)]
pub struct HashRouter {
    shards: Vec<TargetName>,
}

impl HashRouter {
    /// Shards in a fixed order; only ever append to the list.
    pub fn new(shards: impl IntoIterator<Item = TargetName>) -> Self {
        Self {
            shards: shards.into_iter().collect(),
        }
    }
}

impl<K: TenantIdType> TenantRouter<K> for HashRouter {
    fn route(&self, tenant: &Tenant<K>) -> Option<TargetName> {
        let index = jump_hash(shard_key(tenant.id_ref()), self.shards.len())?;
        self.shards.get(index).cloned()
    }
}

/// A well-spread, stable 64-bit key for an id: a UUID's two halves folded
/// (v4 UUIDs are random in both), any other id's text hashed (FNV-1a) and
/// mixed (`SplitMix64`), so sequential integer ids spread evenly too.
fn shard_key<K: TenantIdType>(id: &TenantId<K>) -> u64 {
    if let Some(uuid) = (id.value() as &dyn std::any::Any).downcast_ref::<Uuid>() {
        let bits = uuid.as_u128();
        #[allow(clippy::cast_possible_truncation)]
        return (bits as u64) ^ ((bits >> 64) as u64);
    }
    // The id's text, hashed as it is written, without building a string:
    // routing runs on every transaction.
    let mut fnv = Fnv64(0xcbf2_9ce4_8422_2325);
    let _ = std::fmt::Write::write_fmt(&mut fnv, format_args!("{id}"));
    let mut z = fnv.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a over what is written into it.
struct Fnv64(u64);

impl std::fmt::Write for Fnv64 {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for b in s.bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(())
    }
}

/// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm".
fn jump_hash(mut key: u64, buckets: usize) -> Option<usize> {
    if buckets == 0 {
        return None;
    }
    let (mut b, mut j) = (0_u64, 0_u64);
    let buckets = buckets as u64;
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let next = ((b + 1) as f64 * ((1_u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as u64;
        j = next;
    }
    usize::try_from(b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant::builder(TenantId::new_v4(), "t".parse().unwrap()).build()
    }

    #[test]
    fn hashing_spreads_sequential_integer_ids_evenly() {
        let names = (0..4).map(|i| TargetName::new(&format!("s{i}")).unwrap());
        let router = HashRouter::new(names);
        let mut per_shard: HashMap<TargetName, usize> = HashMap::new();
        for id in 1..=4000_i64 {
            let account = Tenant::builder(TenantId::new(id).unwrap(), "t".parse().unwrap()).build();
            *per_shard
                .entry(router.route(&account).unwrap())
                .or_insert(0) += 1;
            assert_eq!(router.route(&account), router.route(&account), "stable");
        }
        assert_eq!(per_shard.len(), 4);
        for (shard, n) in per_shard {
            assert!((800..1200).contains(&n), "{shard}: {n} of 4000");
        }
    }

    #[test]
    fn hashing_spreads_tenants_and_moves_few_when_a_shard_is_added() {
        let names = |n: usize| (0..n).map(|i| TargetName::new(&format!("s{i}")).unwrap());
        let (four, five) = (HashRouter::new(names(4)), HashRouter::new(names(5)));
        let tenants: Vec<_> = (0..4000).map(|_| tenant()).collect();
        let mut per_shard = HashMap::new();
        let mut moved = 0;
        for t in &tenants {
            let before = four.route(t).unwrap();
            *per_shard.entry(before.clone()).or_insert(0) += 1;
            if five.route(t).unwrap() != before {
                moved += 1;
            }
            assert_eq!(four.route(t), Some(before), "stable");
        }
        assert_eq!(per_shard.len(), 4);
        assert!(
            per_shard.values().all(|&n| (800..1200).contains(&n)),
            "{per_shard:?}"
        );
        // About a fifth move to the new shard, never between old ones.
        assert!((600..1000).contains(&moved), "{moved} moved");
        assert_eq!(HashRouter::new([]).route(&tenants[0]), None);
    }

    #[test]
    fn static_and_placement_routes_fail_closed_for_unknown_tenants() {
        let t = tenant();
        let shard = TargetName::new("a").unwrap();
        let map = StaticRouter::new([]);
        assert_eq!(map.route(&t), None);
        assert_eq!(map.assign(t.id(), shard.clone()), None);
        assert_eq!(map.route(&t), Some(shard.clone()));
        assert_eq!(PlacementRouter::new().route(&t), None);
        assert_eq!(
            PlacementRouter::new().with_default(shard.clone()).route(&t),
            Some(shard)
        );
    }

    /// Where a tenant lives must not change between versions of the SDK: a
    /// router that hashed differently after an upgrade would send tenants to
    /// shards that do not hold their rows. These placements were recorded
    /// once and are kept as they are.
    #[test]
    fn placements_are_the_same_in_every_version() {
        fn placements<K: TenantIdType>(ids: impl IntoIterator<Item = TenantId<K>>) -> String {
            let shards = (0..7).map(|i| TargetName::new(&format!("s{i}")).unwrap());
            let router = HashRouter::new(shards);
            ids.into_iter()
                .map(|id| {
                    let tenant = Tenant::builder(id, "t".parse().unwrap()).build();
                    router.route(&tenant).unwrap().as_str()[1..].to_owned()
                })
                .collect()
        }
        let integers = placements((1..=40_i64).map(|i| TenantId::new(i).unwrap()));
        let uuids = placements((1..=40_u128).map(|i| {
            TenantId::from(Uuid::from_u128(
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
            ))
        }));
        let texts = placements(
            [
                "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
            ]
            .map(|t| TenantId::new(t.to_owned()).unwrap()),
        );
        assert_eq!(integers, "0644050260465155242334235342331403512561");
        assert_eq!(uuids, "2542623303541126261024422651155356023300");
        assert_eq!(texts, "14512550");
    }
}
