//! [`KeyRing`]: named HMAC-SHA256 secrets, the current one first, for
//! values the SDK derives or authenticates (sealed jobs, sealed tenants'
//! passwords) with key rotation.

use std::fmt;

use hmac::{Hmac, KeyInit};
use sha2::Sha256;

/// The shortest secret a [`KeyRing`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// A secret or its id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A secret shorter than [`MIN_SECRET_LEN`] bytes.
    #[error(
        "the key {id:?} is {len} bytes long; use at least 32 random bytes (from your secret store)"
    )]
    WeakKey {
        /// The key's id.
        id: String,
        /// Its length.
        len: usize,
    },
    /// A key id that is empty, too long or not printable ASCII.
    #[error("invalid key id {0:?}: use 1 to 64 printable ASCII characters")]
    InvalidKeyId(String),
}

/// Named secrets, the current one first: the current key makes new values,
/// every key checks or recomputes old ones, so a secret can be rotated
/// without a flag day. Built from configuration; there is no `Default`, and
/// `Debug` shows key ids only.
///
/// ```
/// use tenancy_core::key_ring::{KeyError, KeyRing};
///
/// let ring = KeyRing::new("2026-11", &[7; 32])?.with_previous("2026-05", &[8; 32])?;
/// assert_eq!(ring.current().id(), "2026-11");
/// assert!(ring.get("2026-05").is_some());
/// assert!(matches!(KeyRing::new("k", &[7; 16]), Err(KeyError::WeakKey { len: 16, .. })));
/// assert!(!format!("{ring:?}").contains("7, 7"));
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    /// The current key first; never empty.
    keys: Vec<RingKey>,
}

/// One named secret of a [`KeyRing`], ready to MAC with.
#[derive(Clone)]
pub struct RingKey {
    id: String,
    mac: Hmac<Sha256>,
}

impl KeyRing {
    /// A ring whose current key is `secret` (at least
    /// [`MIN_SECRET_LEN`] bytes), named `id` (1 to 64 printable ASCII
    /// characters; it may travel with what the key made).
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            keys: vec![RingKey::new(id, secret)?],
        })
    }

    /// Adds a previous key: it no longer makes values, but still checks
    /// or recomputes the ones made with it.
    pub fn with_previous(mut self, id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        self.keys.push(RingKey::new(id, secret)?);
        Ok(self)
    }

    /// The key that makes new values.
    pub fn current(&self) -> &RingKey {
        // `new` makes one key and nothing removes any.
        &self.keys[0]
    }

    /// The key named `id`.
    pub fn get(&self, id: &str) -> Option<&RingKey> {
        self.keys.iter().find(|key| key.id == id)
    }

    /// The `n`-th key, 0 being the current one.
    pub fn nth(&self, n: usize) -> Option<&RingKey> {
        self.keys.get(n)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a ring has a current key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl RingKey {
    fn new(id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::InvalidKeyId(id.chars().take(64).collect()));
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError::WeakKey {
                id: id.to_owned(),
                len: secret.len(),
            });
        }
        let Ok(mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            unreachable!("HMAC accepts keys of any length")
        };
        Ok(Self {
            id: id.to_owned(),
            mac,
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh HMAC-SHA256 state keyed with this secret: update it with
    /// what to authenticate, then finalize or verify.
    pub fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.keys.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use hmac::Mac;

    use super::*;

    fn tag(key: &RingKey, message: &[u8]) -> Vec<u8> {
        let mut mac = key.mac();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn keys_are_kept_in_order_current_first() {
        let ring = KeyRing::new("new", &[1; 32]).unwrap();
        assert_eq!((ring.len(), ring.is_empty()), (1, false));
        let ring = ring
            .with_previous("old", &[2; 32])
            .unwrap()
            .with_previous("older", &[3; 32])
            .unwrap();
        assert_eq!((ring.len(), ring.is_empty()), (3, false));
        let ids: Vec<_> = (0..4).map(|n| ring.nth(n).map(RingKey::id)).collect();
        assert_eq!(ids, [Some("new"), Some("old"), Some("older"), None]);
        assert_eq!(ring.current().id(), "new");
        // Each key MACs with its own secret.
        let by_id = |id| tag(ring.get(id).unwrap(), b"tenant 42");
        assert_eq!(by_id("new"), tag(ring.current(), b"tenant 42"));
        assert_ne!(by_id("new"), by_id("old"));
        assert_ne!(by_id("old"), by_id("older"));
        assert!(ring.get("newest").is_none());
    }

    #[test]
    fn weak_secrets_and_bad_ids_are_refused() {
        assert_eq!(
            KeyRing::new("k", &[1; MIN_SECRET_LEN - 1]).err(),
            Some(KeyError::WeakKey {
                id: "k".into(),
                len: 31
            })
        );
        assert!(KeyRing::new(&"k".repeat(64), &[1; MIN_SECRET_LEN]).is_ok());
        for bad in ["", "a b", "clé", &"k".repeat(65)] {
            assert!(
                matches!(KeyRing::new(bad, &[1; 32]), Err(KeyError::InvalidKeyId(_))),
                "{bad:?}"
            );
        }
    }
}
