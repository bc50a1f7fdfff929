//! The `route` label: the pattern of the route a request matched.

use std::sync::{Arc, PoisonError, RwLock};

use metrics::SharedString;

use crate::hash::FxHashMap;

/// The label of requests that matched no known route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// How many distinct route patterns get a label; beyond, `"unmatched"`.
const MAX_ROUTES: usize = 512;

/// A route's label and a small number that stands for it in the ledger's
/// maps (0 is `"unmatched"`).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) id: u16,
    pub(crate) label: SharedString,
}

impl Route {
    fn unmatched() -> Self {
        Self {
            id: 0,
            label: SharedString::const_str(UNMATCHED),
        }
    }
}

/// Route patterns as shared label values, made once per pattern so that a
/// request costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    known: RwLock<FxHashMap<Box<str>, Route>>,
}

impl Routes {
    /// The route of a request, from the pattern its router matched (axum's
    /// `MatchedPath`), if any.
    pub(crate) fn of<B>(&self, request: &http::Request<B>) -> Route {
        match matched_path(request) {
            Some(pattern) => self.intern(pattern),
            None => Route::unmatched(),
        }
    }

    fn intern(&self, pattern: &str) -> Route {
        if let Some(route) = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(pattern)
        {
            return route.clone();
        }
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        let next = known.len() + 1;
        if let Some(route) = known.get(pattern) {
            return route.clone();
        }
        let Ok(id) = u16::try_from(next) else {
            return Route::unmatched();
        };
        if next > MAX_ROUTES {
            return Route::unmatched();
        }
        let route = Route {
            id,
            label: SharedString::from(Arc::<str>::from(pattern)),
        };
        known.insert(pattern.into(), route.clone());
        route
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
