//! [`TenantId`], the stable identity of a tenant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantError;
use crate::error::shorten;

/// The identity of a tenant: a UUID.
///
/// A `TenantId` can be made from a [`Uuid`] (already validated) or by parsing a
/// string, which can fail. There is deliberately no infallible conversion from
/// a string, so untrusted input always goes through validation:
///
/// ```
/// use tenancy_core::TenantId;
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
/// assert!("acme".parse::<TenantId>().is_err());
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
///
/// `Display` always writes the lowercase hyphenated form, which contains only
/// hex digits and hyphens: safe to embed in a SQL literal, a cache key or a
/// file path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    /// Wraps an already validated UUID.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// A fresh random id (UUID v4), for provisioning new tenants.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id as a cache key prefix: `tenant:{id}:`.
    pub fn cache_key(&self, key: &str) -> String {
        format!("tenant:{self}:{key}")
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for TenantId {
    type Err = TenantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(s)
            .map(Self)
            .map_err(|err| TenantError::InvalidId {
                input: shorten(s),
                reason: err.to_string(),
            })
    }
}

impl TryFrom<&str> for TenantId {
    type Error = TenantError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Uuid> for TenantId {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<TenantId> for Uuid {
    fn from(id: TenantId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    #[test]
    fn parses_and_displays_hyphenated_lowercase() {
        let id: TenantId = ID.to_uppercase().parse().unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(TenantId::try_from(ID).unwrap(), id);
    }

    #[test]
    fn rejects_non_uuids_with_a_clear_error() {
        for bad in [
            "",
            "acme",
            "'; DROP TABLE orders; --",
            "67e55044-10b1-426f-9247-bb680e5fe0c",
        ] {
            let err = bad.parse::<TenantId>().unwrap_err();
            assert!(
                matches!(err, TenantError::InvalidId { .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("is a UUID"), "{err}");
        }
    }

    #[test]
    fn long_input_is_shortened_in_the_error() {
        let bad = "x".repeat(10_000);
        let TenantError::InvalidId { input, .. } = bad.parse::<TenantId>().unwrap_err() else {
            panic!("wrong variant");
        };
        assert!(input.len() < 100);
    }

    #[test]
    fn serde_round_trip_is_a_plain_string() {
        let id: TenantId = ID.parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{ID}\""));
        assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<TenantId>("\"acme\"").is_err());
    }

    #[test]
    fn cache_key_prefixes_the_id() {
        let id: TenantId = ID.parse().unwrap();
        assert_eq!(id.cache_key("user:42"), format!("tenant:{ID}:user:42"));
    }
}
