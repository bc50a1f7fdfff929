//! [`TenantKey`]: what a request names its tenant by.

use std::fmt;

use crate::{Tenant, TenantError, TenantId, TenantSlug};

/// How a request names its tenant, before the store is asked: the key of a
/// [`TenantStore`](crate::TenantStore) lookup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey {
    /// A slug, from a subdomain, a header or a path prefix.
    Slug(TenantSlug),
    /// An id, from a header or a token claim.
    Id(TenantId),
    /// A custom domain (lowercase, no port, no trailing dot).
    Domain(Box<str>),
}

impl TenantKey {
    /// Whether `tenant` is the tenant this key names. Domains cannot be
    /// checked without the store and never match here.
    pub fn names(&self, tenant: &Tenant) -> bool {
        match self {
            Self::Slug(slug) => tenant.slug() == slug,
            Self::Id(id) => tenant.id() == *id,
            Self::Domain(_) => false,
        }
    }

    /// Parses a value that is either a UUID (an id) or a slug.
    pub fn parse_slug_or_id(value: &str) -> Result<Self, TenantError> {
        // UUID texts are 32 (simple) to 45 (urn) characters: shorter or longer
        // values skip the id attempt, whose error would allocate for nothing.
        if (32..=45).contains(&value.len())
            && let Ok(id) = value.parse::<TenantId>()
        {
            return Ok(Self::Id(id));
        }
        value.parse().map(Self::Slug)
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Slug(slug) => write!(f, "slug {slug}"),
            Self::Id(id) => write!(f, "id {id}"),
            Self::Domain(domain) => write!(f, "domain {domain}"),
        }
    }
}
