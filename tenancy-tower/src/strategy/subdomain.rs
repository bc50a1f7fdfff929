//! [`Subdomain`]: `acme.example.com` → `acme`.

use http::request::Parts;

use super::{Strategy, malformed};
use crate::host::{Host, normalise_domain, request_host};
use tenancy_core::TenantIdType;

use crate::{TenantKey, TenantRejection};

/// The tenant is the subdomain of a base domain: with base `example.com`,
/// `acme.example.com` (any port, any case, trailing dot or not) names the
/// tenant with slug `acme`.
///
/// - The base domain itself, other domains and IP hosts name no tenant
///   (`Ok(None)`), so another strategy can try.
/// - Reserved labels (default `www`) name no tenant either.
/// - More than one label before the base (`a.b.example.com`) is rejected
///   with 400: it is ambiguous, and guessing could pick the wrong tenant.
/// - `localhost` works as a base domain: `acme.localhost:3000`.
#[derive(Debug, Clone)]
pub struct Subdomain {
    base: String,
    reserved: Vec<String>,
}

impl Subdomain {
    /// Subdomains of `base` (such as `example.com` or `localhost`).
    pub fn of(base: &str) -> Self {
        Self {
            base: normalise_domain(base),
            reserved: vec!["www".to_owned()],
        }
    }

    /// Labels that are not tenants (default: `www`).
    #[must_use]
    pub fn reserved<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.reserved = labels
            .into_iter()
            .map(|l| l.as_ref().to_ascii_lowercase())
            .collect();
        self
    }
}

impl<K: TenantIdType> Strategy<K> for Subdomain {
    fn name(&self) -> &'static str {
        "subdomain"
    }

    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey<K>>, TenantRejection> {
        let strategy = <Self as Strategy<K>>::name(self);
        let host = match request_host(parts).map_err(|r| malformed(strategy, r))? {
            Some(Host::Name(host)) => host,
            Some(Host::Ip) | None => return Ok(None),
        };
        let Some(prefix) = host
            .strip_suffix(self.base.as_str())
            .and_then(|p| p.strip_suffix('.'))
        else {
            return Ok(None);
        };
        if prefix.contains('.') {
            return Err(malformed(
                strategy,
                format!("expected one label before {}, found {prefix:?}", self.base),
            ));
        }
        if self.reserved.iter().any(|r| r == prefix) {
            return Ok(None);
        }
        prefix
            .parse()
            .map(|slug| Some(TenantKey::Slug(slug)))
            .map_err(|e| malformed(strategy, e.to_string()))
    }
}
