//! [`TenantSlug`], the short human-readable name of a tenant.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::TenantError;
use crate::error::shorten;

/// A tenant's short name, as used in subdomains (`acme.example.com`), path
/// prefixes (`/t/acme/...`) and headers (`X-Tenant: acme`).
///
/// A slug is 1 to 63 characters (one DNS label) of lowercase ASCII letters,
/// digits and `-`, and neither starts nor ends with `-`. Parsing lowercases
/// ASCII input, so `ACME` and `acme` are the same tenant; anything else is
/// rejected rather than guessed at.
///
/// ```
/// use tenancy_core::TenantSlug;
///
/// let slug: TenantSlug = "Acme-Corp".parse()?;
/// assert_eq!(slug.as_str(), "acme-corp");
/// assert!("../etc".parse::<TenantSlug>().is_err());
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
///
/// A slug is stored inline (64 bytes, no heap), so parsing one from a
/// request and cloning it never allocate: resolving a tenant on every
/// request stays cheap.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug {
    /// Lowercase ASCII, `len` bytes used, the rest zero.
    bytes: [u8; Self::MAX_LEN],
    len: u8,
}

impl TenantSlug {
    /// The longest slug: one DNS label.
    pub const MAX_LEN: usize = 63;

    /// The slug as a string slice (always lowercase).
    pub fn as_str(&self) -> &str {
        // Only checked ASCII is ever stored, so this never falls back.
        std::str::from_utf8(self.used()).unwrap_or_default()
    }

    fn used(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Checks `input` against the slug rules without allocating.
    fn check(input: &str) -> Result<(), &'static str> {
        if input.is_empty() {
            return Err("it is empty");
        }
        if input.len() > Self::MAX_LEN {
            return Err("it is longer than 63 characters");
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("it contains a character other than a-z, 0-9 and '-'");
        }
        if input.starts_with('-') || input.ends_with('-') {
            return Err("it starts or ends with '-'");
        }
        Ok(())
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantSlug").field(&self.as_str()).finish()
    }
}

impl PartialEq for TenantSlug {
    fn eq(&self, other: &Self) -> bool {
        self.used() == other.used()
    }
}

impl Eq for TenantSlug {}

impl PartialOrd for TenantSlug {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TenantSlug {
    fn cmp(&self, other: &Self) -> Ordering {
        self.used().cmp(other.used())
    }
}

impl Hash for TenantSlug {
    /// Hashes the bytes it holds, as `str` does (without checking them
    /// again as UTF-8: the cache hashes a slug on every request).
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.used());
        state.write_u8(0xff);
    }
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for TenantSlug {
    type Err = TenantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::check(s).map_err(|reason| TenantError::InvalidSlug {
            input: shorten(s),
            reason,
        })?;
        let mut bytes = [0; Self::MAX_LEN];
        let used = &mut bytes[..s.len()];
        used.copy_from_slice(s.as_bytes());
        used.make_ascii_lowercase();
        Ok(Self {
            bytes,
            // `check` bounds the length by MAX_LEN (63).
            len: u8::try_from(s.len()).unwrap_or_default(),
        })
    }
}

impl TryFrom<&str> for TenantSlug {
    type Error = TenantError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = TenantError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TenantSlug> for String {
    fn from(slug: TenantSlug) -> Self {
        slug.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels_and_lowercases() {
        for (input, want) in [
            ("acme", "acme"),
            ("ACME", "acme"),
            ("a-1", "a-1"),
            ("x", "x"),
        ] {
            assert_eq!(input.parse::<TenantSlug>().unwrap().as_str(), want);
        }
        let max = "a".repeat(63);
        assert!(max.parse::<TenantSlug>().is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        let long = "a".repeat(64);
        for bad in [
            "",
            "-acme",
            "acme-",
            "ac me",
            "acme.example",
            "../etc",
            "acme'--",
            "ümlaut",
            "acme\0",
            long.as_str(),
        ] {
            let err = bad.parse::<TenantSlug>().unwrap_err();
            assert!(matches!(err, TenantError::InvalidSlug { .. }), "{bad:?}");
        }
    }

    #[test]
    fn equality_ordering_and_hash_follow_the_text() {
        use std::collections::HashSet;
        let slug = |s: &str| s.parse::<TenantSlug>().unwrap();
        assert_eq!(slug("Acme"), slug("acme"));
        assert_ne!(slug("acme"), slug("acmf"), "same length, other text");
        assert_ne!(slug("acme"), slug("acme-1"));
        // Hashes as the `str` it holds does (a fixed-key hasher).
        let hash = |value: &dyn Fn(&mut std::hash::DefaultHasher)| {
            let mut hasher = std::hash::DefaultHasher::new();
            value(&mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        assert_eq!(hash(&|h| slug("Acme").hash(h)), hash(&|h| "acme".hash(h)));
        assert_ne!(
            hash(&|h| slug("acme").hash(h)),
            hash(&|h| slug("acmf").hash(h))
        );
        assert!(slug("ab") < slug("abc") && slug("abc") < slug("abd"));
        let set: HashSet<_> = [slug("acme"), slug("ACME"), slug("globex")].into();
        assert_eq!(set.len(), 2);
        assert_eq!(format!("{:?}", slug("acme")), "TenantSlug(\"acme\")");
        assert_eq!(String::from(slug("acme")), "acme");
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<TenantSlug>("\"acme\"").is_ok());
        assert!(serde_json::from_str::<TenantSlug>("\"a b\"").is_err());
    }
}
