//! [`CustomDomain`]: the whole host, looked up in the store.

use http::request::Parts;

use super::{Strategy, malformed};
use crate::host::{Host, normalise_domain, request_host};
use tenancy_core::TenantIdType;

use crate::{TenantKey, TenantRejection};

/// The tenant owns the request's whole host (`orders.acme-corp.com`),
/// looked up with [`TenantStoreExt::by_domain`](tenancy_core::TenantStoreExt::by_domain).
///
/// Every named host is a candidate, so put this strategy **after** the
/// others in first-match mode, and list your own domains with
/// [`CustomDomain::except`] so they are not looked up. IP hosts and
/// `localhost` are never custom domains.
#[derive(Debug, Clone, Default)]
pub struct CustomDomain {
    except: Vec<String>,
}

impl CustomDomain {
    /// Any named host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts that are not tenant domains: these domains and their subdomains.
    #[must_use]
    pub fn except<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.except = domains
            .into_iter()
            .map(|d| normalise_domain(d.as_ref()))
            .collect();
        self
    }
}

impl<K: TenantIdType> Strategy<K> for CustomDomain {
    fn name(&self) -> &'static str {
        "custom domain"
    }

    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey<K>>, TenantRejection> {
        let host = match request_host(parts)
            .map_err(|r| malformed(<Self as Strategy<K>>::name(self), r))?
        {
            Some(Host::Name(host)) => host,
            Some(Host::Ip) | None => return Ok(None),
        };
        let excluded = host == "localhost"
            || host.ends_with(".localhost")
            || self.except.iter().any(|d| {
                host == *d
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|p| p.ends_with('.'))
            });
        if excluded {
            return Ok(None);
        }
        Ok(Some(TenantKey::Domain(host.into())))
    }
}
