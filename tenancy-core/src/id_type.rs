//! [`TenantIdType`]: the types a tenant id can have (`uuid`, `bigint`,
//! `integer`, `text`), chosen once per application.

use std::fmt;
use std::hash::Hash;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AnyTenant, AnyTenantId, Tenant};

/// The PostgreSQL type of a tenant column, as written in casts and column
/// definitions.
///
/// ```
/// use tenancy_core::{IdSqlType, TenantIdType};
///
/// assert_eq!(<uuid::Uuid as TenantIdType>::SQL_TYPE, IdSqlType::Uuid);
/// assert_eq!(<i64 as TenantIdType>::SQL_TYPE.as_str(), "bigint");
/// assert_eq!(IdSqlType::from_catalog_name("integer"), Some(IdSqlType::Integer));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdSqlType {
    /// `uuid`, the default.
    #[default]
    Uuid,
    /// `bigint` (`int8`), as Rails, Django and Citus keys are.
    BigInt,
    /// `integer` (`int4`).
    Integer,
    /// `text` (or `varchar`), for slug-like keys.
    Text,
}

impl IdSqlType {
    /// The type as PostgreSQL writes it: `uuid`, `bigint`, `integer`, `text`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::BigInt => "bigint",
            Self::Integer => "integer",
            Self::Text => "text",
        }
    }

    /// The type of a column as the catalog names it (`format_type`), if it
    /// is one a tenant id can have: `uuid`, `bigint`, `integer`, `text`,
    /// `character varying` (with or without a length) count as text.
    pub fn from_catalog_name(name: &str) -> Option<Self> {
        match name {
            "uuid" => Some(Self::Uuid),
            "bigint" | "int8" => Some(Self::BigInt),
            "integer" | "int4" | "int" => Some(Self::Integer),
            "text" => Some(Self::Text),
            other if other.starts_with("character varying") || other.starts_with("varchar") => {
                Some(Self::Text)
            }
            _ => None,
        }
    }
}

impl fmt::Display for IdSqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) mod sealed {
    use super::{AnyTenant, AnyTenantId, Deserializer, Tenant};

    /// What only this crate implements: parsing, validation, and moving a
    /// tenant in and out of the task-local context.
    pub trait Sealed: Sized {
        /// Parses untrusted text; the error says which rule broke.
        fn parse_id(input: &str) -> Result<Self, String>;
        /// Checks a value that did not come from text (a database row, a
        /// JSON number).
        fn validate(&self) -> Result<(), String>;
        /// Whether a header or path value that could be a slug is rather
        /// an id of this type.
        fn looks_like_id(input: &str) -> bool;
        /// Deserializes and validates.
        fn deserialize_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
        /// Puts a tenant into the type-erased form the context holds.
        fn erase(tenant: Tenant<Self>) -> AnyTenant;
        /// Takes a tenant of this id type back out, if it is one.
        fn unerase(tenant: &AnyTenant) -> Option<&Tenant<Self>>;
        /// The id as a map key for every id type.
        fn any_id(&self) -> AnyTenantId;
        /// The part of a tenant's conventional schema name after `tenant_`.
        fn schema_suffix(&self) -> String;
    }
}

/// The type of a tenant id: [`Uuid`] (the default), `i64` (`bigint`), `i32`
/// (`integer`) or `String` (`text`).
///
/// An application picks one and uses it everywhere: `TenantId<i64>`,
/// `Tenant<i64>`, `TenantPool<i64>`, and so on. The type parameter keeps a
/// tenant of one id type out of code configured for another at compile
/// time, and it is the only place the choice is written: the binding, the
/// policies' casts, the column types and the parsers follow from it.
///
/// The trait is sealed: these four types are what PostgreSQL tenant columns
/// use, and each has rules for untrusted input that the SDK relies on (the
/// id's text form is written into `SET LOCAL`, cache keys and file paths):
///
/// | type | PostgreSQL | accepted |
/// |------|------------|----------|
/// | [`Uuid`] | `uuid` | any UUID text form; displayed lowercase hyphenated |
/// | `i64` | `bigint` | decimal digits, 1 to 9223372036854775807 |
/// | `i32` | `integer` | decimal digits, 1 to 2147483647 |
/// | `String` | `text` | 1 to 64 ASCII letters, digits, `-`, `_`, `.`, starting with a letter or digit |
///
/// Zero and negative integer ids are refused: a sequence or identity column
/// starts at 1, and a `0` that a client or a default produced never reaches
/// the database as a tenant.
pub trait TenantIdType:
    sealed::Sealed
    + Clone
    + Eq
    + Ord
    + Hash
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + Unpin
    + 'static
{
    /// The PostgreSQL type of tenant columns keyed by this type.
    const SQL_TYPE: IdSqlType;

    /// What a valid id of this type looks like, for error messages.
    const EXPECTED: &'static str;
}

impl sealed::Sealed for Uuid {
    fn parse_id(input: &str) -> Result<Self, String> {
        Uuid::try_parse(input).map_err(|err| err.to_string())
    }

    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    fn looks_like_id(input: &str) -> bool {
        // UUID texts are 32 (simple) to 45 (urn) characters: shorter or
        // longer values are not tried, whose error would allocate for nothing.
        (32..=45).contains(&input.len()) && Uuid::try_parse(input).is_ok()
    }

    fn deserialize_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer)
    }

    fn erase(tenant: Tenant<Self>) -> AnyTenant {
        AnyTenant::Uuid(tenant)
    }

    fn any_id(&self) -> AnyTenantId {
        AnyTenantId::Uuid(*self)
    }

    fn unerase(tenant: &AnyTenant) -> Option<&Tenant<Self>> {
        match tenant {
            AnyTenant::Uuid(tenant) => Some(tenant),
            _ => None,
        }
    }

    fn schema_suffix(&self) -> String {
        self.simple().to_string()
    }
}

impl TenantIdType for Uuid {
    const SQL_TYPE: IdSqlType = IdSqlType::Uuid;
    const EXPECTED: &'static str =
        "a tenant id is a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8";
}

/// Parses decimal digits only (no sign, no spaces) into a positive integer.
fn parse_positive<T: std::str::FromStr + PartialOrd + Default>(input: &str) -> Result<T, String> {
    if input.is_empty() {
        return Err("it is empty".into());
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err("it is not made of decimal digits only".into());
    }
    let value: T = input
        .parse()
        .map_err(|_| "it is too large for the id type".to_owned())?;
    if value <= T::default() {
        return Err("it is zero; ids start at 1".into());
    }
    Ok(value)
}

/// Accepts an integer id as a JSON number or as a string of digits (tokens
/// often carry ids as strings).
struct IntIdVisitor<T>(std::marker::PhantomData<T>);

impl<T> Visitor<'_> for IntIdVisitor<T>
where
    T: sealed::Sealed + TryFrom<i64> + TryFrom<u64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a positive integer tenant id, as a number or a string of digits")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        let value = T::try_from(v).map_err(|_| E::custom("the tenant id is out of range"))?;
        value.validate().map_err(E::custom)?;
        Ok(value)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let value = T::try_from(v).map_err(|_| E::custom("the tenant id is out of range"))?;
        value.validate().map_err(E::custom)?;
        Ok(value)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse_id(v).map_err(E::custom)
    }
}

macro_rules! integer_id {
    ($ty:ty, $sql:ident, $expected:literal) => {
        impl sealed::Sealed for $ty {
            fn parse_id(input: &str) -> Result<Self, String> {
                parse_positive(input)
            }

            fn validate(&self) -> Result<(), String> {
                if *self > 0 {
                    Ok(())
                } else {
                    Err("it is zero or negative; ids start at 1".into())
                }
            }

            fn looks_like_id(input: &str) -> bool {
                !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit())
            }

            fn deserialize_id<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                deserializer.deserialize_any(IntIdVisitor::<$ty>(std::marker::PhantomData))
            }

            fn erase(tenant: Tenant<Self>) -> AnyTenant {
                AnyTenant::$sql(tenant)
            }

            fn any_id(&self) -> AnyTenantId {
                AnyTenantId::$sql(*self)
            }

            fn unerase(tenant: &AnyTenant) -> Option<&Tenant<Self>> {
                match tenant {
                    AnyTenant::$sql(tenant) => Some(tenant),
                    _ => None,
                }
            }

            fn schema_suffix(&self) -> String {
                self.to_string()
            }
        }

        impl TenantIdType for $ty {
            const SQL_TYPE: IdSqlType = IdSqlType::$sql;
            const EXPECTED: &'static str = $expected;
        }
    };
}

integer_id!(
    i64,
    BigInt,
    "a tenant id is a positive whole number (bigint) such as 42"
);
integer_id!(
    i32,
    Integer,
    "a tenant id is a positive whole number (integer) such as 42"
);

/// The longest text id, in bytes.
const TEXT_ID_MAX: usize = 64;

impl sealed::Sealed for String {
    fn parse_id(input: &str) -> Result<Self, String> {
        let value = input.to_owned();
        value.validate()?;
        Ok(value)
    }

    fn validate(&self) -> Result<(), String> {
        let Some(first) = self.bytes().next() else {
            return Err("it is empty".into());
        };
        if self.len() > TEXT_ID_MAX {
            return Err(format!("it is longer than {TEXT_ID_MAX} bytes"));
        }
        if !first.is_ascii_alphanumeric() {
            return Err("it does not start with a letter or a digit".into());
        }
        if !self
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(
                "it contains a character other than ASCII letters, digits, '-', '_' and '.'".into(),
            );
        }
        Ok(())
    }

    fn looks_like_id(_input: &str) -> bool {
        // With text ids, a value that names a tenant is its id.
        true
    }

    fn deserialize_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.validate().map_err(de::Error::custom)?;
        Ok(value)
    }

    fn erase(tenant: Tenant<Self>) -> AnyTenant {
        AnyTenant::Text(tenant)
    }

    fn any_id(&self) -> AnyTenantId {
        AnyTenantId::Text(self.as_str().into())
    }

    fn unerase(tenant: &AnyTenant) -> Option<&Tenant<Self>> {
        match tenant {
            AnyTenant::Text(tenant) => Some(tenant),
            _ => None,
        }
    }

    fn schema_suffix(&self) -> String {
        // Schema names are lowercase a-z, 0-9 and '_' (at most 63 bytes):
        // ids that are already of that shape keep their name, others get a
        // mapped name plus a hash of the exact id, so `Acme` and `acme` (two
        // different ids) never share a schema.
        let plain = self.len() <= 48
            && self
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if plain {
            return self.clone();
        }
        let mapped: String = self
            .bytes()
            .take(40)
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b.to_ascii_lowercase())
                } else {
                    '_'
                }
            })
            .collect();
        format!("{mapped}_{:08x}", fnv1a(self.as_bytes()))
    }
}

impl TenantIdType for String {
    const SQL_TYPE: IdSqlType = IdSqlType::Text;
    const EXPECTED: &'static str = "a tenant id is 1 to 64 ASCII letters, digits, '-', '_' and '.', starting with a letter or a digit, such as acme-corp";
}

/// 32-bit FNV-1a: a stable hash (the same in every build and process) for
/// names PostgreSQL must keep apart.
pub(crate) fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    #[test]
    fn integers_are_positive_decimal_digits() {
        assert_eq!(i64::parse_id("42"), Ok(42));
        assert_eq!(i64::parse_id("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(i32::parse_id("2147483647"), Ok(i32::MAX));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1e3",
            "0x10",
            "9223372036854775808",
        ] {
            assert!(i64::parse_id(bad).is_err(), "{bad:?}");
        }
        assert!(i32::parse_id("2147483648").is_err());
        assert!((-5_i64).validate().is_err());
        assert!(0_i32.validate().is_err());
    }

    #[test]
    fn text_ids_are_safe_in_sql_keys_and_paths() {
        assert_eq!(String::parse_id("acme-corp"), Ok("acme-corp".into()));
        assert!(String::parse_id("Acme.Corp_2").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "-acme",
            "a/b",
            "a:b",
            "a'b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(String::parse_id(bad).is_err(), "{bad:?}");
        }
        assert!(String::parse_id(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn text_schema_suffixes_are_valid_and_distinct() {
        assert_eq!("acme_1".to_owned().schema_suffix(), "acme_1");
        let upper = "Acme".to_owned().schema_suffix();
        let lower = "acme".to_owned().schema_suffix();
        assert_ne!(upper, lower);
        for id in ["Acme", "a-b.c", &"Z".repeat(64)] {
            let name = format!("tenant_{}", id.to_owned().schema_suffix());
            assert!(crate::SchemaName::new(&name).is_ok(), "{name}");
        }
    }

    #[test]
    fn integer_ids_deserialize_from_numbers_and_digit_strings() {
        let from_number: i64 = i64::deserialize_id(serde_json::json!(42)).unwrap();
        let from_text: i64 = i64::deserialize_id(serde_json::json!("42")).unwrap();
        assert_eq!((from_number, from_text), (42, 42));
        assert!(i64::deserialize_id(serde_json::json!(0)).is_err());
        assert!(i64::deserialize_id(serde_json::json!(-3)).is_err());
        assert!(i32::deserialize_id(serde_json::json!(4_000_000_000_u64)).is_err());
        assert!(i64::deserialize_id(serde_json::json!("x")).is_err());
        assert!(i64::deserialize_id(serde_json::json!(1.5)).is_err());
    }

    #[test]
    fn text_ids_deserialize_only_when_valid() {
        let id: String = String::deserialize_id(serde_json::json!("acme-corp")).unwrap();
        assert_eq!(id, "acme-corp");
        for bad in [
            serde_json::json!(""),
            serde_json::json!("a b"),
            serde_json::json!(42),
        ] {
            assert!(String::deserialize_id(bad.clone()).is_err(), "{bad}");
        }
    }

    /// The hash in mapped schema names must never change (existing schemas
    /// are found by it) and must tell near-identical ids apart.
    #[test]
    fn mapped_schema_names_keep_their_hash() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
        assert_eq!(
            "Acme".to_owned().schema_suffix(),
            format!("acme_{:08x}", fnv1a(b"Acme"))
        );
        assert_ne!(fnv1a(b"Acme"), fnv1a(b"ACME"));
    }

    #[test]
    fn catalog_names_map_to_sql_types() {
        assert_eq!(
            IdSqlType::from_catalog_name("character varying(40)"),
            Some(IdSqlType::Text)
        );
        assert_eq!(
            IdSqlType::from_catalog_name("bigint"),
            Some(IdSqlType::BigInt)
        );
        assert_eq!(IdSqlType::from_catalog_name("numeric"), None);
    }

    #[test]
    fn catalog_type_names_map_to_id_types_and_back() {
        for (name, ty) in [
            ("uuid", IdSqlType::Uuid),
            ("bigint", IdSqlType::BigInt),
            ("int8", IdSqlType::BigInt),
            ("integer", IdSqlType::Integer),
            ("int4", IdSqlType::Integer),
            ("int", IdSqlType::Integer),
            ("text", IdSqlType::Text),
            ("character varying(64)", IdSqlType::Text),
        ] {
            assert_eq!(IdSqlType::from_catalog_name(name), Some(ty), "{name}");
        }
        for name in ["numeric", "smallint", "jsonb", ""] {
            assert_eq!(IdSqlType::from_catalog_name(name), None, "{name}");
        }
        for ty in [
            IdSqlType::Uuid,
            IdSqlType::BigInt,
            IdSqlType::Integer,
            IdSqlType::Text,
        ] {
            assert_eq!(IdSqlType::from_catalog_name(&ty.to_string()), Some(ty));
        }
    }

    #[test]
    fn a_wrong_json_value_for_an_integer_id_says_what_is_expected() {
        let err = serde_json::from_str::<crate::TenantId<i64>>("true").unwrap_err();
        assert!(
            err.to_string().contains("a positive integer tenant id"),
            "{err}"
        );
    }
}
