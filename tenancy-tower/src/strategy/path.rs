//! [`PathPrefix`]: `/t/acme/orders` → `acme`.

use http::Uri;
use http::request::Parts;

use super::{Strategy, malformed};
use tenancy_core::TenantIdType;

use crate::{TenantKey, TenantRejection};

/// The tenant is the path segment after a prefix: with prefix `/t`,
/// `/t/acme/orders` names the tenant with slug `acme`.
///
/// With [`strip`](PathPrefix::strip), the inner service sees `/orders`
/// instead (query string kept). A path under the prefix without a valid slug
/// (`/t/`, `/t/..`, `/t/%61cme`) is rejected with 400; other paths name no
/// tenant. Percent-encoded slugs are not decoded: slugs are plain ASCII.
///
/// With axum, stripping only works when the layer wraps the whole router
/// (`TenantLayer::layer(&layer, router)` or `ServiceBuilder::new().layer(layer).service(router)`):
/// middleware added with `Router::layer` runs *after* routing, when the
/// original path has already picked the route.
#[derive(Debug, Clone)]
pub struct PathPrefix {
    prefix: String,
    strip: bool,
}

impl PathPrefix {
    /// Segments after `prefix` (such as `/t`; a trailing `/` is ignored).
    pub fn new(prefix: &str) -> Self {
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        };
        Self {
            prefix,
            strip: false,
        }
    }

    /// Removes `/{prefix}/{slug}` from the path the inner service sees.
    #[must_use]
    pub fn strip(mut self) -> Self {
        self.strip = true;
        self
    }

    /// The slug segment and what follows it, if the path is under the prefix.
    fn split<'a>(&self, path: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        let rest = rest.strip_prefix('/')?;
        Some(match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        })
    }
}

impl<K: TenantIdType> Strategy<K> for PathPrefix {
    fn name(&self) -> &'static str {
        "path"
    }

    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey<K>>, TenantRejection> {
        let strategy = <Self as Strategy<K>>::name(self);
        let path = parts.uri.path();
        if path == self.prefix {
            return Err(malformed(
                strategy,
                format!("expected {}/{{tenant}}/...", self.prefix),
            ));
        }
        let Some((segment, _)) = self.split(path) else {
            return Ok(None);
        };
        segment
            .parse()
            .map(|slug| Some(TenantKey::Slug(slug)))
            .map_err(|e| malformed(strategy, e.to_string()))
    }

    fn rewrite(&self, parts: &mut Parts) {
        if !self.strip {
            return;
        }
        let Some((_, rest)) = self.split(parts.uri.path()) else {
            return;
        };
        let path = if rest.is_empty() { "/" } else { rest };
        let path_and_query = match parts.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let mut uri_parts = parts.uri.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            uri_parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(uri_parts) {
                parts.uri = uri;
            }
        }
    }
}
