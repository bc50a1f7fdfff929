//! The `route` label: the pattern of the route a request matched.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use metrics::SharedString;

/// The label of requests that matched no known route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// How many distinct route patterns get a label; beyond, `"unmatched"`.
const MAX_ROUTES: usize = 512;

/// Route patterns as shared label values, made once per pattern so that a
/// request costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    known: RwLock<HashMap<Box<str>, SharedString>>,
}

impl Routes {
    /// The route label of a request, from the pattern its router matched
    /// (axum's `MatchedPath`), if any.
    pub(crate) fn label<B>(&self, request: &http::Request<B>) -> SharedString {
        match matched_path(request) {
            Some(pattern) => self.intern(pattern),
            None => SharedString::const_str(UNMATCHED),
        }
    }

    fn intern(&self, pattern: &str) -> SharedString {
        if let Some(label) = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pattern)
        {
            return label.clone();
        }
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_ROUTES {
            return SharedString::const_str(UNMATCHED);
        }
        known
            .entry(pattern.into())
            .or_insert_with(|| SharedString::from(std::sync::Arc::<str>::from(pattern)))
            .clone()
    }
}

#[cfg(feature = "axum")]
fn matched_path<B>(request: &http::Request<B>) -> Option<&str> {
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
fn matched_path<B>(_request: &http::Request<B>) -> Option<&str> {
    None
}

/// The status class label of a status code.
pub(crate) fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}
