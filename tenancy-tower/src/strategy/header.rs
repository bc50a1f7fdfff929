//! [`Header`]: `X-Tenant: acme`.

use http::HeaderName;
use http::request::Parts;

use super::{Strategy, malformed};
use tenancy_core::TenantIdType;

use crate::{TenantKey, TenantRejection};

/// The tenant is named in a header (default `X-Tenant`), by slug or id: a
/// value that parses as a UUID is an id, anything else must be a valid slug.
///
/// Two such headers, a non-UTF-8 or overlong value, or an invalid slug are
/// rejected with 400; an absent header names no tenant.
#[derive(Debug, Clone)]
pub struct Header {
    name: HeaderName,
}

impl Header {
    /// The `X-Tenant` header.
    pub fn x_tenant() -> Self {
        Self {
            name: HeaderName::from_static("x-tenant"),
        }
    }

    /// Another header.
    pub fn named(name: HeaderName) -> Self {
        Self { name }
    }
}

impl<K: TenantIdType> Strategy<K> for Header {
    fn name(&self) -> &'static str {
        "header"
    }

    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey<K>>, TenantRejection> {
        let strategy = <Self as Strategy<K>>::name(self);
        let mut values = parts.headers.get_all(&self.name).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(malformed(
                    strategy,
                    format!("more than one {} header", self.name),
                ));
            }
            (Some(value), None) => value,
        };
        if value.len() > 128 {
            return Err(malformed(
                strategy,
                format!("the {} header is too long", self.name),
            ));
        }
        let value = value.to_str().map_err(|_| {
            malformed(
                strategy,
                format!("the {} header is not visible ASCII", self.name),
            )
        })?;
        // Visible ASCII: the only whitespace it can hold is spaces and
        // tabs, which the ASCII trim takes off as `str::trim` would.
        TenantKey::parse_slug_or_id(value.trim_ascii())
            .map(Some)
            .map_err(|e| malformed(strategy, e.to_string()))
    }
}
