//! [`TenantId`], the stable identity of a tenant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::TenantError;
use crate::error::shorten;
use crate::id_type::TenantIdType;

/// The identity of a tenant: a [`Uuid`] by default, or another
/// [`TenantIdType`] (`i64`, `i32`, `String`) chosen once per application.
///
/// A `TenantId` is made from a value that was checked (a [`Uuid`], or
/// [`TenantId::new`] which validates) or by parsing a string, which can
/// fail. There is deliberately no infallible conversion from a string or a
/// plain integer, so untrusted input always goes through validation:
///
/// ```
/// use tenancy_core::TenantId;
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
/// assert!("acme".parse::<TenantId>().is_err());
///
/// // An application keyed by bigint ids:
/// let account: TenantId<i64> = "42".parse()?;
/// assert_eq!(*account.value(), 42);
/// assert!("0".parse::<TenantId<i64>>().is_err());
/// assert!(TenantId::new(-1_i64).is_err());
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
///
/// Ids of different types are different types: a `TenantId<i64>` cannot be
/// passed where a `TenantId` (UUID) is expected, and a plain `i64` is not a
/// tenant id at all.
///
/// `Display` writes the canonical text form (lowercase hyphenated for a
/// UUID, decimal digits for an integer, the text itself for a text id),
/// which contains no quote, colon, slash or space: safe to embed in a SQL
/// literal, a cache key or a file path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId<K = Uuid>(K);

impl TenantId<Uuid> {
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
}

impl<K: TenantIdType> TenantId<K> {
    /// Checks a value that did not come from text, such as an id read from
    /// a database row: integer ids must be positive, text ids must follow
    /// the rules of [`TenantIdType`].
    pub fn new(value: K) -> Result<Self, TenantError> {
        match value.validate() {
            Ok(()) => Ok(Self(value)),
            Err(reason) => Err(TenantError::invalid_id::<K>(&value.to_string(), reason)),
        }
    }

    /// The value inside: bind it as a query parameter for the tenant column.
    pub const fn value(&self) -> &K {
        &self.0
    }

    /// The value inside, by value.
    pub fn into_value(self) -> K {
        self.0
    }

    /// The id as a cache key prefix: `tenant:{id}:{key}`.
    pub fn cache_key(&self, key: &str) -> String {
        format!("tenant:{self}:{key}")
    }
}

impl<K: fmt::Display> fmt::Display for TenantId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<K: TenantIdType> FromStr for TenantId<K> {
    type Err = TenantError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        K::parse_id(s)
            .map(Self)
            .map_err(|reason| TenantError::invalid_id::<K>(s, reason))
    }
}

impl<K: TenantIdType> TryFrom<&str> for TenantId<K> {
    type Error = TenantError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl<'de, K: TenantIdType> Deserialize<'de> for TenantId<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        K::deserialize_id(deserializer).map(Self)
    }
}

impl From<Uuid> for TenantId<Uuid> {
    fn from(uuid: Uuid) -> Self {
        Self(uuid)
    }
}

impl From<TenantId<Uuid>> for Uuid {
    fn from(id: TenantId<Uuid>) -> Self {
        id.0
    }
}

impl TenantError {
    pub(crate) fn invalid_id<K: TenantIdType>(input: &str, reason: impl Into<String>) -> Self {
        Self::InvalidId {
            input: shorten(input),
            reason: reason.into(),
            expected: K::EXPECTED,
        }
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
            let err = bad.parse::<TenantId<i64>>().unwrap_err();
            assert!(err.to_string().contains("positive whole number"), "{err}");
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
    fn integer_and_text_ids_round_trip_and_validate() {
        let id: TenantId<i64> = "42".parse().unwrap();
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<TenantId<i64>>("42").unwrap(), id);
        assert_eq!(serde_json::from_str::<TenantId<i64>>("\"42\"").unwrap(), id);
        assert!(serde_json::from_str::<TenantId<i64>>("0").is_err());
        assert_eq!(TenantId::new(42_i64).unwrap(), id);

        let text: TenantId<String> = "acme-corp".parse().unwrap();
        assert_eq!(text.cache_key("menu"), "tenant:acme-corp:menu");
        assert!(serde_json::from_str::<TenantId<String>>("\"a/../b\"").is_err());
        assert!(TenantId::new("x'y".to_owned()).is_err());
    }

    #[test]
    fn cache_key_prefixes_the_id() {
        let id: TenantId = ID.parse().unwrap();
        assert_eq!(id.cache_key("user:42"), format!("tenant:{ID}:user:42"));
    }

    #[test]
    fn a_uuid_tenant_id_converts_back_to_its_uuid() {
        let uuid = Uuid::new_v4();
        assert_eq!(Uuid::from(TenantId::from_uuid(uuid)), uuid);
    }
}
