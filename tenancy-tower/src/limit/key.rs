//! [`LimitKey`]: what the limit layers count a tenant's requests under.

use tenancy_core::AnyTenant;
use tenancy_core::uuid::Uuid;

/// A tenant's id, whatever its type, as a map key: copied for UUID and
/// integer ids (no allocation on the request path), owned text otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LimitKey {
    Uuid(Uuid),
    BigInt(i64),
    Integer(i32),
    Text(Box<str>),
}

impl From<&AnyTenant> for LimitKey {
    fn from(tenant: &AnyTenant) -> Self {
        match tenant {
            AnyTenant::Uuid(t) => Self::Uuid(*t.id_ref().value()),
            AnyTenant::BigInt(t) => Self::BigInt(*t.id_ref().value()),
            AnyTenant::Integer(t) => Self::Integer(*t.id_ref().value()),
            AnyTenant::Text(t) => Self::Text(t.id_ref().value().as_str().into()),
            other => Self::Text(other.id_display().to_string().into()),
        }
    }
}
