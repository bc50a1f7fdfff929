//! [`TenantKey`]: what a request names its tenant by.

use std::fmt;

use uuid::Uuid;

use crate::{Tenant, TenantError, TenantId, TenantIdType, TenantSlug};

/// How a request names its tenant, before the store is asked: the key of a
/// [`TenantStore`](crate::TenantStore) lookup. `K` is the application's
/// tenant id type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey<K = Uuid> {
    /// A slug, from a subdomain, a header or a path prefix.
    Slug(TenantSlug),
    /// An id, from a header or a token claim.
    Id(TenantId<K>),
    /// A custom domain (lowercase, no port, no trailing dot).
    Domain(Box<str>),
}

impl<K: TenantIdType> TenantKey<K> {
    /// Whether `tenant` is the tenant this key names. Domains cannot be
    /// checked without the store and never match here.
    pub fn names(&self, tenant: &Tenant<K>) -> bool {
        match self {
            Self::Slug(slug) => tenant.slug() == slug,
            Self::Id(id) => tenant.id_ref() == id,
            Self::Domain(_) => false,
        }
    }

    /// Parses a value that is either an id or a slug.
    ///
    /// A value that has the shape of an id of type `K` is an id: a UUID, a
    /// string of digits for integer ids. With text ids, every value is an
    /// id (the slug and the id usually coincide there).
    pub fn parse_slug_or_id(value: &str) -> Result<Self, TenantError> {
        if K::looks_like_id(value) {
            return value.parse().map(Self::Id);
        }
        value.parse().map(Self::Slug)
    }
}

impl<K: fmt::Display> fmt::Display for TenantKey<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Slug(slug) => write!(f, "slug {slug}"),
            Self::Id(id) => write!(f, "id {id}"),
            Self::Domain(domain) => write!(f, "domain {domain}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantId;
    use uuid::Uuid;

    /// Keys print with what kind of key they are, for logs and errors.
    #[test]
    fn keys_say_what_they_are() {
        let id = TenantId::new(42_i64).unwrap();
        assert_eq!(TenantKey::Id(id).to_string(), "id 42");
        assert_eq!(
            TenantKey::<i64>::Slug("acme".parse().unwrap()).to_string(),
            "slug acme"
        );
        assert_eq!(
            TenantKey::<i64>::Domain("orders.acme-corp.com".into()).to_string(),
            "domain orders.acme-corp.com"
        );
    }

    #[test]
    fn a_value_is_an_id_only_when_it_has_the_shape_of_one() {
        let id = Uuid::new_v4();
        for text in [
            id.to_string(),
            id.simple().to_string(),
            id.urn().to_string(),
        ] {
            assert_eq!(
                TenantKey::<Uuid>::parse_slug_or_id(&text).unwrap(),
                TenantKey::Id(TenantId::from_uuid(id)),
                "{text}"
            );
        }
        // Slugs, also ones as long as a UUID text, stay slugs.
        for slug in ["acme", "the-restaurant-at-the-end-of-the-pier"] {
            assert!(
                matches!(
                    TenantKey::<Uuid>::parse_slug_or_id(slug),
                    Ok(TenantKey::Slug(_))
                ),
                "{slug}"
            );
        }
        assert!(matches!(
            TenantKey::<i64>::parse_slug_or_id("42"),
            Ok(TenantKey::Id(_))
        ));
        assert!(matches!(
            TenantKey::<i64>::parse_slug_or_id("acme"),
            Ok(TenantKey::Slug(_))
        ));
    }
}
