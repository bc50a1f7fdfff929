//! [`SealedLogins`]: the credentials of every sealed tenant's login role,
//! derived from one master secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use tenancy_core::key_ring::{KeyError, KeyRing, RingKey};
use tenancy_core::rls::SealedRole;

/// SCRAM iterations of the verifiers the SDK computes: PostgreSQL's
/// default (`scram_iterations`).
const SCRAM_ITERATIONS: u32 = 4096;

/// The credentials of sealed tenants' login roles: each role's password is
/// an HMAC-SHA256 of the role's name under a master secret, so nothing per
/// tenant is stored or shipped, and every process that holds the secret
/// computes the same passwords.
///
/// - **No secret reaches the server or its logs**: the provisioner sends
///   PostgreSQL a SCRAM-SHA-256 verifier computed here
///   ([`scram_verifier`](Self::scram_verifier)), never the password, so a
///   statement log shows a verifier, from which no one can log in.
/// - **Rotation**: add the new secret with [`new`](Self::new), keep the old
///   one with [`with_previous`](Self::with_previous), deploy, then rotate
///   the roles (`SealedProvisioner::rotate`). Until a role is rotated, a
///   pool that fails to log in with the current secret tries the previous
///   ones.
/// - `Debug` shows key ids only.
///
/// ```
/// use tenancy_sqlx::sealed::SealedLogins;
/// use tenancy_core::rls::SealedRole;
///
/// let logins = SealedLogins::new("2026-11", &[7u8; 32])?;
/// let role = SealedRole::new("tenancy_sealed_acme")?;
/// assert_eq!(logins.scram_verifier(&role), logins.scram_verifier(&role));
/// assert!(logins.scram_verifier(&role).starts_with("SCRAM-SHA-256$4096:"));
/// assert!(!format!("{logins:?}").contains("7, 7"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SealedLogins {
    ring: KeyRing,
}

impl SealedLogins {
    /// Derives passwords from `secret` (at least 32 bytes), known as `id`
    /// (for rotation and logs).
    pub fn new(id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            ring: KeyRing::new(id, secret)?,
        })
    }

    /// Keeps an older secret: pools fall back to it for roles not rotated
    /// yet.
    pub fn with_previous(self, id: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Ok(Self {
            ring: self.ring.with_previous(id, secret)?,
        })
    }

    /// The secrets, current first (ids and count; `Debug` shows ids only).
    pub fn keys(&self) -> &KeyRing {
        &self.ring
    }

    /// `base` (host, port, database, TLS) logging in as `role` with the
    /// password of the `key`-th secret (0 is the current one).
    pub(crate) fn connect_options(
        &self,
        base: &PgConnectOptions,
        role: &SealedRole,
        key: usize,
    ) -> Option<PgConnectOptions> {
        let password = password(self.ring.nth(key)?, role);
        Some(base.clone().username(role.as_str()).password(&password))
    }

    /// The password of `role` under the current secret. Hand it only to a
    /// connection; [`scram_verifier`](Self::scram_verifier) is what the
    /// server and a pooler's auth file store.
    pub fn password(&self, role: &SealedRole) -> String {
        password(self.ring.current(), role)
    }

    /// The SCRAM-SHA-256 verifier of [`password`](Self::password), in the
    /// form `CREATE ROLE .. PASSWORD` and pgbouncer's `auth_file` accept.
    /// Its salt is derived too, so the verifier is the same every time:
    /// pgbouncer then logs in to the server with the client's own proof.
    pub fn scram_verifier(&self, role: &SealedRole) -> String {
        let key = self.ring.current();
        let salt = derive(key, &["salt", role.as_str()]);
        scram_verifier(
            password(key, role).as_bytes(),
            &salt[..16],
            SCRAM_ITERATIONS,
        )
    }
}

impl fmt::Debug for SealedLogins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedLogins")
            .field("keys", &self.ring)
            .finish()
    }
}

/// HMAC of the parts under `key`, each ended by a NUL so no two lists
/// collide.
fn derive(key: &RingKey, parts: &[&str]) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(b"tenancy sealed login v1\0");
    for part in parts {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac.finalize().into_bytes().into()
}

fn password(key: &RingKey, role: &SealedRole) -> String {
    URL_SAFE_NO_PAD.encode(derive(key, &["password", role.as_str()]))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802,
/// RFC 7677), as PostgreSQL stores it.
fn scram_verifier(password: &[u8], salt: &[u8], iterations: u32) -> String {
    // Hi(): PBKDF2-HMAC-SHA-256 with one output block.
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut salted = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (s, x) in salted.iter_mut().zip(u) {
            *s ^= x;
        }
    }
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_or_badly_named_keys_are_refused() {
        assert!(matches!(
            SealedLogins::new("k", &[1; 31]),
            Err(KeyError::WeakKey { len: 31, .. })
        ));
        assert!(matches!(
            SealedLogins::new("", &[1; 32]),
            Err(KeyError::InvalidKeyId(_))
        ));
        assert!(matches!(
            SealedLogins::new("a b", &[1; 32]),
            Err(KeyError::InvalidKeyId(_))
        ));
    }

    #[test]
    fn passwords_differ_by_role_and_by_secret() {
        let a = SealedRole::new("tenancy_sealed_a").unwrap();
        let b = SealedRole::new("tenancy_sealed_b").unwrap();
        let one = SealedLogins::new("one", &[1; 32]).unwrap();
        let two = SealedLogins::new("two", &[2; 32]).unwrap();
        assert_ne!(one.password(&a), one.password(&b));
        assert_ne!(one.password(&a), two.password(&a));
        assert_ne!(one.scram_verifier(&a), two.scram_verifier(&a));
        assert_eq!(one.password(&a).len(), 43);
    }
}
