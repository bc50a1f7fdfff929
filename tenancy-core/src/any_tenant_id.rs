//! [`AnyTenantId`]: a tenant's id, whatever its type, as a map key.

use std::fmt;

use uuid::Uuid;

use crate::{AnyTenant, Tenant, TenantIdType};

/// A tenant's id, whatever its type, as a map key: for layers that keep
/// per-tenant state (limits, usage) for every kind of tenant. Copied for
/// UUID and integer ids (no allocation on the request path), owned text
/// otherwise.
///
/// ```
/// use tenancy_core::{AnyTenant, AnyTenantId, Tenant, TenantId};
///
/// let tenant = AnyTenant::from(Tenant::builder(TenantId::new(42_i64)?, "acme".parse()?).build());
/// let id = AnyTenantId::from(&tenant);
/// assert_eq!(id, AnyTenantId::BigInt(42));
/// assert_eq!(id.to_string(), "42");
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AnyTenantId {
    /// A UUID id.
    Uuid(Uuid),
    /// A `bigint` id.
    BigInt(i64),
    /// An `integer` id.
    Integer(i32),
    /// A `text` id.
    Text(Box<str>),
}

impl From<&AnyTenant> for AnyTenantId {
    fn from(tenant: &AnyTenant) -> Self {
        match tenant {
            AnyTenant::Uuid(t) => Self::from(t),
            AnyTenant::BigInt(t) => Self::from(t),
            AnyTenant::Integer(t) => Self::from(t),
            AnyTenant::Text(t) => Self::from(t),
        }
    }
}

impl<K: TenantIdType> From<&Tenant<K>> for AnyTenantId {
    fn from(tenant: &Tenant<K>) -> Self {
        tenant.id_ref().value().any_id()
    }
}

/// The id as PostgreSQL prints it.
impl fmt::Display for AnyTenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uuid(id) => id.fmt(f),
            Self::BigInt(id) => id.fmt(f),
            Self::Integer(id) => id.fmt(f),
            Self::Text(id) => f.write_str(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;

    fn id_of<K: crate::TenantIdType>(id: K) -> AnyTenantId
    where
        AnyTenant: From<Tenant<K>>,
    {
        let slug = "acme".parse().unwrap_or_else(|_| unreachable!());
        let id = TenantId::new(id).unwrap_or_else(|_| unreachable!());
        let tenant = Tenant::builder(id, slug).build();
        let typed = AnyTenantId::from(&tenant);
        let erased = AnyTenantId::from(&AnyTenant::from(tenant));
        assert_eq!(
            typed, erased,
            "the typed and the erased tenant give one key"
        );
        erased
    }

    #[test]
    fn each_kind_of_id_is_kept_and_printed_as_postgresql_prints_it() {
        let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let cases = [
            (
                id_of(uuid),
                AnyTenantId::Uuid(uuid),
                "01234567-89ab-cdef-0123-456789abcdef",
            ),
            (id_of(42_i64), AnyTenantId::BigInt(42), "42"),
            (id_of(7_i32), AnyTenantId::Integer(7), "7"),
            (
                id_of(String::from("acme-eu")),
                AnyTenantId::Text("acme-eu".into()),
                "acme-eu",
            ),
        ];
        for (id, expected, printed) in cases {
            assert_eq!(id, expected);
            assert_eq!(id.to_string(), printed);
        }
    }
}
