//! A fast hasher for the meter's maps.
//!
//! Their keys are never chosen by a client: tenant ids come from resolved
//! tenants (the store refuses unknown ones before the meter runs) and
//! route patterns from the router. So the maps need no defence against
//! collision floods (`HashDoS`), and `SipHash` would only cost time on
//! every request.

use std::hash::{BuildHasher, Hasher};

/// Builds [`Fx`] hashers (the multiply-rotate hash of Firefox and rustc).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = Fx;

    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

/// The hasher.
#[derive(Debug)]
pub(crate) struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::FxBuild;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_differ() {
        let h = |v: &str| FxBuild.hash_one(v);
        assert_eq!(h("/orders/{id}"), h("/orders/{id}"));
        let hashes: std::collections::HashSet<u64> = [
            "/a",
            "/b",
            "/orders",
            "/orders/{id}",
            "/orders/{id}/lines",
            "",
        ]
        .iter()
        .map(|v| h(v))
        .collect();
        assert_eq!(hashes.len(), 6);
    }
}
